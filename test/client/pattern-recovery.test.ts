// What a pattern subscriber gets across a cut: live messages again, and a
// `recovery` event with reason 'pattern' (the server replays exact topics
// only), once per reconnect, never for the first subscribe. Exact topics
// recover as before.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { PubsubMessage, RecoveryEvent } from '../../src/client/index.js'
import { eventually, Inbox, listen } from '../helper.js'
import { cuttable, scriptedServer, sdk } from './helper.js'

const seen = (inbox: Inbox<PubsubMessage>): string[] => inbox.items.map((m) => `${m.topic}#${m.seq}`)
const byTopic = (events: RecoveryEvent[]): RecoveryEvent[] => [...events].sort((a, b) => a.topic.localeCompare(b.topic))

async function publish (app: FastifyInstance, topic: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await app.pubsub.publish(topic, i)
}

/** The network between client and server goes down (the server sees the connection close), then `during` runs, then it comes back. */
async function outage (app: FastifyInstance, network: { cut: () => void, restore: () => void }, client: { state: string }, during: () => Promise<void>): Promise<void> {
  network.cut()
  await eventually(() => app.websocketServer.clients.size === 0 && client.state === 'reconnecting')
  await during()
  network.restore()
}

t.test('a network cut: the exact topic recovers, news.* resumes live and is told, once per reconnect', async (t) => {
  const { app, url } = await listen(t)
  const network = await cuttable(t, url)
  const client = sdk(t, network.url, { reconnect: { initialDelay: 5, maxDelay: 20 } })
  const recoveries = new Inbox<RecoveryEvent>('recovery event')
  client.on('recovery', recoveries.push)
  await client.connect()
  const news = new Inbox<PubsubMessage>('news message')
  const alsoNews = new Inbox<PubsubMessage>('news message')
  const orders = new Inbox<PubsubMessage>('order')
  await client.subscribe('news.*', news.push).ready
  client.subscribe('news.*', alsoNews.push)
  await client.subscribe('orders', orders.push).ready
  const dropped = client.subscribe('sports.*', () => {})
  await dropped.ready
  await dropped()

  await publish(app, 'news.a', 5)
  await publish(app, 'orders', 5)
  await eventually(() => news.items.length === 5 && orders.items.length === 5)
  t.equal(recoveries.items.length, 0, 'no event for the first subscribe')

  const live: string[] = ['news.a#1', 'news.a#2', 'news.a#3', 'news.a#4', 'news.a#5']
  // news.a and orders move together: 10 published during each cut, then 1 live.
  let last = 5
  for (const round of [1, 2]) {
    await outage(app, network, client, async () => {
      await publish(app, 'news.a', 10)
      await publish(app, 'news.b', 5)
      await publish(app, 'orders', 10)
    })
    const events = [await recoveries.next(), await recoveries.next()]
    t.strictSame(byTopic(events), [
      { topic: 'news.*', recovered: false, reason: 'pattern' },
      { topic: 'orders', recovered: true }
    ], `reconnect ${round}: the pattern is told it did not recover; the exact topic recovered, as before`)
    await publish(app, 'news.a', 1)
    await publish(app, 'orders', 1)
    last += 11
    live.push(`news.a#${last}`)
    await eventually(() => news.items.length === live.length && alsoNews.items.length === live.length && orders.items.length === last)
    t.strictSame(seen(news), live, `reconnect ${round}: the pattern's handler got live messages only`)
    t.strictSame(seen(alsoNews), live, 'both handlers of the pattern, told by one event')
    t.strictSame(orders.items.map((m) => m.seq), Array.from({ length: last }, (_, i) => i + 1), `reconnect ${round}: the exact topic got every message once, in order`)
    t.equal(recoveries.items.length, 2 * round, 'one event per subscription per reconnect; none for the unsubscribed sports.*')
  }
})

t.test('past retention the exact topic says recovered: false as before, once, beside the pattern\'s event', async (t) => {
  const { app, url } = await listen(t, { historySize: 3 })
  const network = await cuttable(t, url)
  const client = sdk(t, network.url, { reconnect: { initialDelay: 5, maxDelay: 20 } })
  const recoveries = new Inbox<RecoveryEvent>('recovery event')
  client.on('recovery', recoveries.push)
  await client.connect()
  const orders = new Inbox<PubsubMessage>('order')
  await client.subscribe('news.>', () => {}).ready
  await client.subscribe('orders', orders.push).ready
  await publish(app, 'orders', 1)
  await orders.next()
  await outage(app, network, client, async () => { await publish(app, 'orders', 10) })
  t.strictSame(byTopic([await recoveries.next(), await recoveries.next()]), [
    { topic: 'news.>', recovered: false, reason: 'pattern' },
    { topic: 'orders', recovered: false }
  ])
  await publish(app, 'orders', 1)
  t.match(await orders.next(), { seq: 12 }, 'live again from the ack')
  t.equal(recoveries.items.length, 2, 'the exact topic told once')
  t.same(client.position('orders')?.seq, 12)
})

t.test('no event for a first subscribe: made offline, made online, or whose first ack was lost to a drop', async (t) => {
  let connections = 0
  const { url, server } = await scriptedServer(t, (request, socket) => {
    if (request.action !== 'subscribe') return
    // The first connection drops before it acknowledges anything.
    if (connections === 1) {
      socket.terminate()
      return
    }
    socket.send(JSON.stringify({ type: 'ack', id: request.id, action: 'subscribe', topic: request.topic }))
  })
  server.on('connection', () => { connections++ })
  const client = sdk(t, url, { reconnect: { initialDelay: 5, maxDelay: 20 } })
  const recoveries = new Inbox<RecoveryEvent>('recovery event')
  client.on('recovery', recoveries.push)
  const offline = client.subscribe('a.*', () => {})
  await client.connect()
  t.match(await offline.ready, { topic: 'a.*' }, 'acknowledged on the second connection')
  t.equal(connections, 2)
  await client.subscribe('b.*', () => {}).ready
  t.equal(recoveries.items.length, 0, 'nothing was resumed yet')

  for (const socket of server.clients) socket.terminate()
  t.strictSame(byTopic([await recoveries.next(), await recoveries.next()]), [
    { topic: 'a.*', recovered: false, reason: 'pattern' },
    { topic: 'b.*', recovered: false, reason: 'pattern' }
  ], 'the next reconnect resumes both')
})

t.test('a server that recovers patterns: its answer is the event, not a second one', async (t) => {
  // Contract 1.1 lets a server recover patterns; its pattern ack then says recovered.
  let acks = 0
  const { url, server } = await scriptedServer(t, (request, socket) => {
    if (request.action !== 'subscribe') return
    const recovered = acks++ === 0 ? {} : { recovered: true }
    socket.send(JSON.stringify({ type: 'ack', id: request.id, action: 'subscribe', topic: request.topic, ...recovered }))
  })
  const client = sdk(t, url, { reconnect: { initialDelay: 5, maxDelay: 20 } })
  const recoveries = new Inbox<RecoveryEvent>('recovery event')
  client.on('recovery', recoveries.push)
  await client.connect()
  await client.subscribe('p.*', () => {}).ready
  for (const socket of server.clients) socket.terminate()
  t.strictSame(await recoveries.next(), { topic: 'p.*', recovered: true })
  t.equal(recoveries.items.length, 1)
})

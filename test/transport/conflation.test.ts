// Conflation (PROTOCOL.md 1.1, docs/namespaces.md): a subscriber that stops
// reading keeps the latest message per topic of a conflating namespace, gets
// it with `skipped` once it reads again, and is closed with 1013 as before
// by anything else that finds it behind.
import type { FastifyInstance } from 'fastify'
import { connect as connectTcp, type Socket } from 'node:net'
import t from 'tap'
import { connectWelcomed, eventually, listen, type Client, type Frame } from '../helper.js'
import { HARD_CAP_FACTOR } from '../../src/transport/frame-writer.js'
import { WORKED as NAMESPACES } from '../namespaces-example.js'

// The worked config of docs/namespaces.md: prices.> conflates, chat.> does not.
const MAX_BUFFERED = 64 * 1024
const PAYLOAD = 'x'.repeat(8 * 1024)

function rawSocket (c: Client): Socket {
  return (c.ws as unknown as { _socket: Socket })._socket
}

/** One price per turn, alternating over `topics`, until `done` says so; returns the last price sent to each. */
async function publishUntil (app: FastifyInstance, topics: string[], done: () => boolean, limit = 20_000): Promise<Map<string, number>> {
  const last = new Map<string, number>()
  for (let i = 0; !done(); i++) {
    if (i === limit) throw new Error(`not done after ${limit} publishes`)
    const topic = topics[i % topics.length] as string
    await app.pubsub.publish(topic, { price: i, pad: PAYLOAD })
    last.set(topic, i)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return last
}

/** Frames until every topic's last price has arrived. */
async function framesUntil (c: Client, last: Map<string, number>): Promise<Frame[]> {
  const frames: Frame[] = []
  const waiting = new Set(last.values())
  while (waiting.size > 0) {
    const frame = await c.next()
    frames.push(frame)
    waiting.delete(frame.data?.price)
  }
  return frames
}

t.test('a conflating subscriber that stops reading keeps the latest per topic and gets it with skipped', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: MAX_BUFFERED, namespaces: NAMESPACES })
  const slow = await connectWelcomed(t, url)
  await slow.subscribe('prices.a')
  await slow.subscribe('prices.*')
  const raw = rawSocket(slow)
  raw.pause()
  const clients = app.pubsubClients
  // Well past the kernel's buffers and maxBufferedBytes: without conflation, a 1013 long before.
  const last = await publishUntil(app, ['prices.a', 'prices.b'], () => clients.conflated >= 1000)
  t.equal(clients.slowConsumers, 0, 'not closed')
  t.equal(slow.ws.readyState, slow.ws.OPEN)
  raw.resume()

  const frames = await framesUntil(slow, last)
  let skipped = 0
  for (const topic of ['prices.a', 'prices.b']) {
    const mine = frames.filter((frame) => frame.topic === topic)
    const jumps = mine.map((frame, i) => frame.seq - (mine[i - 1]?.seq ?? 0))
    t.same(jumps, mine.map((frame) => 1 + (frame.skipped ?? 0)), `${topic}: each seq jumps by skipped + 1, no more`)
    skipped += mine.reduce((sum, frame) => sum + (frame.skipped ?? 0), 0)
    t.equal(mine.at(-1)?.data.price, last.get(topic), `${topic}: the latest value came last`)
    t.ok(mine.some((frame) => frame.skipped > 0), `${topic}: some deliveries say what they skipped`)
    t.equal(mine.at(-1)?.subscription, topic === 'prices.b' ? 'prices.*' : undefined, `${topic}: still through its subscription`)
  }
  t.equal(skipped, clients.conflated, 'every message not delivered is counted, and said')
  t.equal(clients.dropped, 0, 'nothing dropped')
  t.same(await slow.drain(), [], 'nothing more comes')
  t.equal(slow.ws.readyState, slow.ws.OPEN, 'still open')

  // Caught up: live delivery as before, no skipped.
  await app.pubsub.publish('prices.a', { price: -1 })
  const now = await slow.next()
  t.match(now, { topic: 'prices.a', data: { price: -1 }, seq: (frames.filter((f) => f.topic === 'prices.a').at(-1)?.seq as number) + 1 })
  t.notOk('skipped' in now, 'no skipped once caught up')
})

t.test('on the same connection, a non-conflated message that finds it behind still closes it with 1013', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: MAX_BUFFERED, namespaces: NAMESPACES })
  const slow = await connectWelcomed(t, url)
  await slow.subscribe('prices.a')
  await slow.subscribe('chat.room')
  const raw = rawSocket(slow)
  raw.pause()
  const clients = app.pubsubClients
  await publishUntil(app, ['prices.a'], () => clients.conflated >= 100)
  t.equal(clients.slowConsumers, 0, 'behind on prices only: held, not closed')
  await app.pubsub.publish('chat.room', { text: 'hello' })
  t.equal(clients.slowConsumers, 1, 'chat is not conflated: the same rule as ever')
  raw.resume()
  t.equal((await slow.closed).code, 1013)
})

t.test('memory stays bounded: behind on more topics than the hard cap holds, it is closed with 1013', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: MAX_BUFFERED, namespaces: NAMESPACES })
  const slow = await connectWelcomed(t, url)
  await slow.subscribe('prices.>')
  const raw = rawSocket(slow)
  raw.pause()
  const clients = app.pubsubClients
  // Every topic new: nothing replaces anything, so what is held only grows.
  const topics = Array.from({ length: 4 * HARD_CAP_FACTOR * MAX_BUFFERED / PAYLOAD.length + 10_000 }, (_, i) => `prices.t${i}`)
  await publishUntil(app, topics, () => clients.slowConsumers > 0)
  t.equal(clients.conflated, 0, 'one message per topic: nothing skipped')
  t.ok(clients.dropped > 0, 'what was held is counted as dropped')
  raw.resume()
  t.equal((await slow.closed).code, 1013)
})

t.test('with a maxBufferedBytes below the socket\'s high-water mark, held messages go out as the socket takes them', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 1024, namespaces: NAMESPACES })
  const slow = await connectWelcomed(t, url)
  await slow.subscribe('prices.a')
  const raw = rawSocket(slow)
  raw.pause()
  const clients = app.pubsubClients
  // Small messages: the socket is behind long before it holds 16 KiB, so it never asks for a drain.
  const last = new Map<string, number>()
  for (let i = 0; clients.conflated < 100; i++) {
    if (i === 200_000) throw new Error('never conflated')
    last.set('prices.a', i)
    await app.pubsub.publish('prices.a', { price: i })
    if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  raw.resume()
  const frames = (await framesUntil(slow, last)).filter((frame) => frame.type === 'message')
  t.same(frames.map((frame, i) => frame.seq - (frames[i - 1]?.seq ?? 0)), frames.map((frame) => 1 + (frame.skipped ?? 0)), 'each seq jumps by skipped + 1')
  t.equal(frames.reduce((sum, frame) => sum + (frame.skipped ?? 0), 0), clients.conflated)
  t.equal(clients.slowConsumers, 0)
})

t.test('an SSE stream that stops reading is conflated the same way: not cut, the latest with skipped', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: MAX_BUFFERED, namespaces: NAMESPACES })
  // A raw socket: node's http client keeps reading even when paused.
  const stuck = connectTcp(Number(new URL(url).port), '127.0.0.1')
  t.teardown(() => stuck.destroy())
  let text = ''
  stuck.setEncoding('utf8')
  stuck.on('data', (chunk: string) => { text += chunk })
  stuck.write('GET /sse/prices.a HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await eventually(() => text.includes('event: subscribed'))
  stuck.pause()
  const clients = app.pubsubClients
  const last = await publishUntil(app, ['prices.a'], () => clients.conflated >= 200)
  t.equal(clients.slowConsumers, 0, 'not cut')
  stuck.resume()
  await eventually(() => text.includes(`"price":${last.get('prices.a') as number},`))
  const events = [...text.matchAll(/id: (\S+):(\d+)\ndata: (\{.*\})\n\n/g)].map(([, , id, data]) => ({ ...JSON.parse(data as string), seq: Number(id), seqOfData: JSON.parse(data as string).seq }))
  t.same(events.map((event, i) => event.seq - (events[i - 1]?.seq ?? 0)), events.map((event) => 1 + (event.skipped ?? 0)), 'each id jumps by skipped + 1: Last-Event-ID resumes past what was skipped')
  t.ok(events.every((event) => event.seq === event.seqOfData), 'the id is the seq')
  t.equal(events.reduce((sum, event) => sum + (event.skipped ?? 0), 0), clients.conflated)
})

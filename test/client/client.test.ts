import t from 'tap'
import WebSocket from 'ws'
import type { AddressInfo } from 'node:net'
import { PubsubClient, PubsubClientError, type PubsubMessage } from '../../src/client/index.js'
import { build, eventually, Inbox, listen } from '../helper.js'
import { scriptedServer, sdk } from './helper.js'

t.test('connect resolves at the welcome; state and events follow', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url)
  const events: string[] = []
  for (const event of ['open', 'welcome', 'close'] as const) client.on(event, () => events.push(event))
  t.equal(client.state, 'idle')
  const connecting = client.connect()
  t.equal(client.state, 'connecting')
  const { clientId } = await connecting
  t.match(clientId, /^[\w-]{21}$/)
  t.equal(client.clientId, clientId)
  t.equal(client.state, 'open')
  t.same(await client.connect(), { clientId }, 'connecting again is a no-op')
  t.same(events, ['open', 'welcome'])
  await client.close()
  t.equal(client.state, 'closed')
  t.same(events, ['open', 'welcome', 'close'])
  t.equal(client.clientId, undefined)
})

t.test('subscribe and publish: the handler gets topic, data, seq and ts; publish resolves with the seq', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url)
  await client.connect()
  const inbox = new Inbox<PubsubMessage<{ score: string }>>()
  const subscription = client.subscribe<{ score: string }>('news.sports', inbox.push)
  t.equal(subscription.topic, 'news.sports')
  t.match(await subscription.ready, { topic: 'news.sports', seq: 0, epoch: String })
  const before = Date.now()
  t.same(await client.publish('news.sports', { score: '2-1' }), { topic: 'news.sports', seq: 1 })
  const message = await inbox.next()
  t.same({ ...message, ts: 0 }, { topic: 'news.sports', data: { score: '2-1' }, seq: 1, ts: 0 })
  t.ok(message.ts >= before - 1000 && message.ts <= Date.now() + 1000, 'ts is server time in ms')
  t.same(client.position('news.sports'), { seq: 1, epoch: (await subscription.ready).epoch })
  t.same(client.subscriptions, ['news.sports'])
})

t.test('every local subscription that matches gets its own call, with subscription set for patterns', async (t) => {
  const { app, url } = await listen(t)
  const client = sdk(t, url)
  await client.connect()
  const exact = new Inbox<PubsubMessage>()
  const star = new Inbox<PubsubMessage>()
  const all = new Inbox<PubsubMessage>()
  await client.subscribe('news.sports', exact.push).ready
  await client.subscribe('news.*', star.push).ready
  await client.subscribe('>', all.push).ready
  t.same(client.subscriptions, ['>', 'news.*', 'news.sports'])
  await app.inject({ method: 'POST', url: '/publish/news.sports', payload: { n: 1 } })
  t.notOk('subscription' in await exact.next())
  t.match(await star.next(), { topic: 'news.sports', subscription: 'news.*', seq: 1 })
  t.match(await all.next(), { topic: 'news.sports', subscription: '>', seq: 1 })
  t.equal(client.position('news.*'), undefined, 'patterns have no position')
})

t.test('handlers of one topic share one server subscription; the last one out unsubscribes', async (t) => {
  const { app, url } = await listen(t)
  const client = sdk(t, url)
  await client.connect()
  const first = new Inbox<PubsubMessage>()
  const second = new Inbox<PubsubMessage>()
  const unsubscribeFirst = client.subscribe('room', first.push)
  const unsubscribeSecond = client.subscribe('room', second.push)
  await unsubscribeSecond.ready
  t.equal(app.pubsub.counts().subscriptions, 1)
  await unsubscribeFirst()
  await unsubscribeFirst()
  t.equal(app.pubsub.counts().subscriptions, 1, 'one handler left, still subscribed')
  await client.publish('room', 'a')
  t.equal((await second.next()).data, 'a')
  await unsubscribeSecond()
  t.equal(app.pubsub.counts().subscriptions, 0, 'the unsubscribe ack has come back')
  t.same(client.subscriptions, [])
  await client.publish('room', 'b')
  await client.ping()
  t.same(first.items, [])
  t.same(second.items.map((m) => m.data), ['a'])
})

t.test('concurrent requests are matched to their replies by id', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url)
  await client.connect()
  const topics = Array.from({ length: 50 }, (_, i) => `t${i % 10}.n${i}`)
  const acks = await Promise.all(topics.map((topic) => client.publish(topic, topic)))
  t.same(acks, topics.map((topic) => ({ topic, seq: 1 })))
  const counts = await Promise.all(Array.from({ length: 20 }, async () => await client.publish('same', 0)))
  t.same(counts.map((ack) => ack.seq).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1))
  t.type(await client.ping(), 'number')
})

t.test('error frames reject with the contract code; refused subscriptions are dropped and reported', async (t) => {
  const { url } = await listen(t, { maxSubscriptions: 1 })
  const client = sdk(t, url)
  await client.connect()
  const errors = new Inbox<PubsubClientError>()
  client.on('error', errors.push)
  await t.rejects(client.publish('news.*', 1), { name: 'PubsubClientError', code: 'INVALID_TOPIC' })
  await t.rejects(client.publish('news', undefined), { code: 'BAD_REQUEST', message: /message/ })
  await t.rejects(client.publish('news', 10n), TypeError, 'a value JSON cannot hold rejects before sending')
  await t.rejects(client.subscribe('a..b', () => {}).ready, { code: 'INVALID_TOPIC' })
  t.match(await errors.next(), { code: 'INVALID_TOPIC' })
  await client.subscribe('one', () => {}).ready
  await t.rejects(client.subscribe('two', () => {}).ready, { code: 'TOO_MANY_SUBSCRIPTIONS' })
  t.match(await errors.next(), { code: 'TOO_MANY_SUBSCRIPTIONS' })
  t.same(client.subscriptions, ['one'])
  // Removed before the refusal came back: nothing left to report.
  const refused = client.subscribe('c..d', () => {})
  await refused()
  await t.rejects(refused.ready, { code: 'UNSUBSCRIBED' })
  await client.ping()
  t.equal(errors.items.length, 2)
})

t.test('unsubscribing before the ack rejects ready with UNSUBSCRIBED', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url)
  const offline = client.subscribe('early', () => {})
  await offline()
  await t.rejects(offline.ready, { code: 'UNSUBSCRIBED' })
  await client.connect()
  const online = client.subscribe('late', () => {})
  await online()
  await t.rejects(online.ready, { code: 'UNSUBSCRIBED' })
  t.same(client.subscriptions, [])
})

t.test('a handler that throws is reported; the other handlers still run', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url)
  await client.connect()
  const errors = new Inbox<PubsubClientError>()
  client.on('error', errors.push)
  const boom = new Error('boom')
  client.subscribe('x', () => { throw boom })
  const inbox = new Inbox<PubsubMessage>()
  await client.subscribe('x', inbox.push).ready
  await client.publish('x', 1)
  t.equal((await inbox.next()).data, 1)
  t.match(await errors.next(), { code: 'HANDLER', cause: boom })
})

t.test('a request without a reply rejects with TIMEOUT; the connection stays', async (t) => {
  const { url, requests } = await scriptedServer(t, (request, socket) => {
    if (request.action === 'ping' && requests.length > 2) socket.send(JSON.stringify({ type: 'pong', id: request.id }))
  })
  const client = sdk(t, url.replace(/^http/, 'ws'), { requestTimeout: 50 })
  // sdk() appends /ws; the scripted server answers on any path.
  await client.connect()
  await t.rejects(client.publish('a', 1), { code: 'TIMEOUT', message: 'no reply to publish within 50 ms' })
  await t.rejects(client.ping(), { code: 'TIMEOUT' })
  t.type(await client.ping(), 'number', 'a late reply is not confused with a new one')
  t.equal(client.state, 'open')
})

t.test('frames the client cannot use are reported, not thrown', async (t) => {
  const { url } = await scriptedServer(t, (request, socket) => {
    socket.send('not json')
    socket.send(JSON.stringify({ type: 'error', code: 'BAD_JSON', message: 'no id' }))
    socket.send(JSON.stringify({ type: 'ack', id: 999 }))
    socket.send(JSON.stringify({ type: 'something-new' }))
    socket.send(JSON.stringify({ type: 'pong', id: request.id }))
  })
  const client = sdk(t, url)
  const errors = new Inbox<PubsubClientError>()
  client.on('error', errors.push)
  await client.connect()
  await client.ping()
  t.match(await errors.next(), { code: 'CONNECTION', message: /not JSON/ })
  t.match(await errors.next(), { code: 'BAD_JSON', message: 'no id' })
  t.equal(errors.items.length, 2)
})

t.test('a dropped connection: the publish in flight is sent again with its key, a ping is rejected with DISCONNECTED, subscriptions come back', async (t) => {
  const { url, server, requests } = await scriptedServer(t, (request, socket) => {
    if (requests.length <= 3) return
    if (request.action === 'subscribe') socket.send(JSON.stringify({ type: 'ack', id: request.id, action: 'subscribe', topic: request.topic, seq: 7 }))
    if (request.action === 'publish') socket.send(JSON.stringify({ type: 'ack', id: request.id, action: 'publish', topic: request.topic, seq: 8, epoch: 'e', duplicate: true }))
  })
  const client = sdk(t, url, { reconnect: { initialDelay: 1, jitter: 0 } })
  await client.connect()
  const subscription = client.subscribe('room', () => {})
  const publish = client.publish('room', 1)
  const ping = client.ping()
  const welcomes = new Inbox<{ clientId: string }>()
  client.on('welcome', welcomes.push)
  await eventually(() => requests.length === 3)
  for (const socket of server.clients) socket.terminate()
  await t.rejects(ping, { code: 'DISCONNECTED' })
  t.same(await welcomes.next(), { clientId: 'c2' })
  t.match(await subscription.ready, { topic: 'room', seq: 7, epoch: undefined })
  t.same(await publish, { topic: 'room', seq: 8, duplicate: true }, 'the server had applied it: the resend is answered as a duplicate')
  t.same(requests.map((r) => [r.action, r.topic, r.since]), [['subscribe', 'room', undefined], ['publish', 'room', undefined], ['ping', undefined, undefined], ['subscribe', 'room', undefined], ['publish', 'room', undefined]])
  t.match(requests[1]?.key, /^[0-9a-f]{32}$/, 'every publish has a random key')
  t.equal(requests[4]?.key, requests[1]?.key, 'resent with the same key, after the resubscription')
  t.same(client.position('room'), { seq: 7, epoch: undefined })
  // Without an epoch in the ack, the next resubscribe gives `since` alone.
  for (const socket of server.clients) socket.terminate()
  t.same(await welcomes.next(), { clientId: 'c3' })
  await eventually(() => requests.length === 6)
  t.same(requests[5], { action: 'subscribe', topic: 'room', since: 7, id: requests[5]?.id })
  const own = client.publish('room', 2, { key: 'mine' })
  await eventually(() => requests.length === 7)
  t.equal(requests[6]?.key, 'mine', 'a key of the caller\'s own')
  t.same(await own, { topic: 'room', seq: 8, duplicate: true })
})

t.test('reconnects to a restarted server: resubscribed with since and epoch, new messages arrive', async (t) => {
  const first = await build(t)
  await first.listen({ host: '127.0.0.1', port: 0 })
  const { port } = first.server.address() as AddressInfo
  const client = sdk(t, `http://127.0.0.1:${port}`, { reconnect: { initialDelay: 10, maxDelay: 50 } })
  const { clientId } = await client.connect()
  const inbox = new Inbox<PubsubMessage>()
  const { epoch } = await client.subscribe('room', inbox.push).ready
  await client.publish('room', 'before')
  await inbox.next()
  const closes = new Inbox<{ code: number }>()
  const reconnecting = new Inbox<{ attempt: number, delay: number }>()
  client.on('close', closes.push)
  client.on('reconnecting', reconnecting.push)
  const recoveries = new Inbox<{ topic: string, recovered: boolean }>()
  client.on('recovery', recoveries.push)
  await first.close()
  t.match(await closes.next(), { code: 1001 })
  t.match(await reconnecting.next(), { attempt: 1 })
  t.equal(client.state, 'reconnecting')
  const queued = client.publish('room', 'queued while away')

  const second = await build(t)
  await second.listen({ host: '127.0.0.1', port })
  t.equal((await queued).seq, 1, 'the queued publish went out after the reconnect, to a new sequence')
  t.not(client.clientId, clientId)
  t.match(await inbox.next(), { data: 'queued while away', seq: 1 }, 'resubscribed before the queue was sent')
  t.same(recoveries.items, [{ topic: 'room', recovered: false }], 'a new epoch: what was missed is gone')
  await second.inject({ method: 'POST', url: '/publish/room', payload: '"after"', headers: { 'content-type': 'application/json' } })
  t.match(await inbox.next(), { data: 'after', seq: 2 })
  const position = client.position('room')
  t.equal(position?.seq, 2)
  t.not(position?.epoch, epoch, 'the new server has a new epoch; recovered was false, so the position restarted')
})

t.test('a reconnect that missed nothing keeps its position and says recovered', async (t) => {
  const { app, url } = await listen(t)
  const client = sdk(t, url, { reconnect: { initialDelay: 1 } })
  await client.connect()
  const inbox = new Inbox<PubsubMessage>()
  await client.subscribe('room', inbox.push).ready
  await client.publish('room', 1)
  await inbox.next()
  const position = { ...client.position('room') }
  const recoveries = new Inbox<{ topic: string, recovered: boolean }>()
  client.on('recovery', recoveries.push)
  for (const socket of app.websocketServer.clients) socket.terminate()
  t.same(await recoveries.next(), { topic: 'room', recovered: true })
  t.same(client.position('room'), position)
  await client.publish('room', 2)
  t.match(await inbox.next(), { data: 2, seq: 2 })
})

t.test('reconnect delays grow exponentially up to maxDelay; maxAttempts gives up', async (t) => {
  const { app, url } = await listen(t)
  await app.close()
  const client = sdk(t, url, { reconnect: { initialDelay: 5, maxDelay: 20, jitter: 0, maxAttempts: 5 } })
  const delays: number[] = []
  client.on('reconnecting', ({ delay }) => delays.push(delay))
  const errors = new Inbox<PubsubClientError>()
  client.on('error', errors.push)
  const subscription = client.subscribe('x', () => {})
  const queued = client.publish('x', 1)
  await t.rejects(client.connect(), { code: 'CLOSED', message: /not reconnecting/ })
  await t.rejects(queued, { code: 'CLOSED' })
  await t.rejects(subscription.ready, { code: 'CLOSED' })
  t.same(delays, [5, 10, 20, 20, 20])
  t.match(await errors.next(), { code: 'CONNECTION', message: /ECONNREFUSED/ })
  t.equal(client.state, 'closed')
})

t.test('reconnect: false stays closed once the connection drops', async (t) => {
  const { app, url } = await listen(t)
  const client = sdk(t, url, { reconnect: false })
  await client.connect()
  const closes = new Inbox<{ code: number }>()
  client.on('close', closes.push)
  await app.close()
  t.match(await closes.next(), { code: 1001 })
  t.equal(client.state, 'closed')
  await t.rejects(client.publish('x', 1), { code: 'CLOSED' })
})

t.test('requests made while offline queue up to maxQueued', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url, { maxQueued: 1 })
  const first = client.publish('q', 1)
  await t.rejects(client.publish('q', 2), { code: 'QUEUE_FULL' })
  await client.connect()
  t.same(await first, { topic: 'q', seq: 1 })
  const none = sdk(t, url, { maxQueued: 0 })
  await t.rejects(none.ping(), { code: 'QUEUE_FULL', message: /0 requests/ })
})

t.test('close rejects what waits with CLOSED, stops everything and can be called again', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url)
  await client.connect()
  const subscription = client.subscribe('never-acked', () => {})
  const pending = t.rejects(client.publish('a', 1), { code: 'CLOSED' })
  await Promise.all([client.close(), client.close()])
  await pending
  await t.rejects(subscription.ready, { code: 'CLOSED' })
  await t.rejects(client.connect(), { code: 'CLOSED' })
  await t.rejects(client.ping(), { code: 'CLOSED' })
  await client.close()
  t.equal(client.state, 'closed')
  const unopened = new PubsubClient({ url: 'ws://127.0.0.1:1/ws', WebSocket })
  await unopened.close()
  t.equal(unopened.state, 'closed')
})

t.test('close three times: every call settles, the socket closes once, nothing reconnects', async (t) => {
  const { url, server } = await scriptedServer(t, () => {})
  const serverCloses = new Inbox<number>()
  server.on('connection', (socket) => { socket.on('close', serverCloses.push) })
  const client = sdk(t, url, { reconnect: { initialDelay: 1, jitter: 0 } })
  const closes = new Inbox<{ code: number, reason: string }>()
  client.on('close', closes.push)
  client.on('reconnecting', () => { t.fail('a closed client does not reconnect') })
  await client.connect()
  const pending = t.rejects(client.ping(), { code: 'CLOSED' })
  await Promise.all([client.close(), client.close(), client.close()])
  await pending
  t.equal(await serverCloses.next(), 1000, 'the server sees a normal close')
  t.same(closes.items, [{ code: 1000, reason: '' }], 'one close event')
  for (let i = 0; i < 3; i++) await client.close()
  t.equal(closes.items.length, 1, 'later calls close nothing more')
  t.equal(client.state, 'closed')

  // Between attempts: close clears the wait for the next one (a leaked timer would hold the process a minute).
  const offline = sdk(t, 'http://127.0.0.1:1', { reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 } })
  offline.on('error', () => {})
  const reconnecting = new Inbox<{ attempt: number, delay: number }>()
  offline.on('reconnecting', reconnecting.push)
  const connecting = t.rejects(offline.connect(), { code: 'CLOSED' })
  t.same(await reconnecting.next(), { attempt: 1, delay: 60_000 })
  await Promise.all([offline.close(), offline.close(), offline.close()])
  await connecting
  t.equal(offline.state, 'closed')

  const idle = new PubsubClient({ url: 'ws://127.0.0.1:1/ws', WebSocket })
  for (let i = 0; i < 3; i++) await idle.close()
  t.equal(idle.state, 'closed')
})

t.test('a URL the WebSocket refuses closes the client at once', async (t) => {
  const client = new PubsubClient({ url: 'not a url', WebSocket })
  await t.rejects(client.connect(), { code: 'CONNECTION', message: /cannot connect to not a url/ })
  t.equal(client.state, 'closed')
})

t.test('options are checked, with TypeErrors of code OPTION; the global WebSocket is the default', async (t) => {
  t.throws(() => new PubsubClient({ url: 'ws://x', WebSocket, requestTimeout: 0 }), { name: 'TypeError', code: 'OPTION', message: 'requestTimeout must be an integer >= 1, got 0' })
  t.throws(() => new PubsubClient({ url: 'ws://x', WebSocket, maxQueued: -1 }), { name: 'TypeError', code: 'OPTION', message: /maxQueued/ })
  t.throws(() => new PubsubClient({ url: 'ws://x', WebSocket, reconnect: { jitter: 2 } }), { name: 'TypeError', code: 'OPTION', message: 'reconnect.jitter must be a number from 0 to 1, got 2' })
  t.throws(() => new PubsubClient({ url: 'ws://x', WebSocket, reconnect: { factor: Number.NaN } }), { name: 'TypeError', code: 'OPTION', message: /reconnect.factor/ })
  t.throws(() => new PubsubClient({ url: 'ws://x', WebSocket, requestTimeout: 0, reconnect: { jitter: 2 } }), { message: /requestTimeout/ }, 'requestTimeout is checked before reconnect')
  const global = globalThis as { WebSocket?: unknown }
  const saved = global.WebSocket
  t.teardown(() => { global.WebSocket = saved })
  global.WebSocket = undefined
  t.throws(() => new PubsubClient({ url: 'ws://x' }), { name: 'TypeError', code: 'OPTION', message: /no global WebSocket/ })
  global.WebSocket = WebSocket
  const { url } = await listen(t)
  const client = new PubsubClient({ url: url.replace(/^http/, 'ws') + '/ws' })
  t.teardown(() => client.close())
  t.match(await client.connect(), { clientId: String })
})

t.test('once listens for one event; the returned function stops a listener', async (t) => {
  const { url } = await listen(t)
  const client = sdk(t, url)
  let onces = 0
  let ons = 0
  client.once('welcome', () => onces++)
  const off = client.on('welcome', () => ons++)
  off()
  await client.connect()
  t.equal(onces, 1)
  t.equal(ons, 0)
})

t.test('frames still arriving after close() are ignored', async (t) => {
  const { url, server } = await scriptedServer(t, () => {})
  server.on('connection', (socket) => {
    // Right behind the welcome, in the same burst.
    socket.send(JSON.stringify({ type: 'message', topic: 'late', data: 1, seq: 1, ts: 0 }))
  })
  const client = sdk(t, url)
  let handled = 0
  client.subscribe('late', () => { handled++ })
  client.on('welcome', () => { void client.close() })
  await client.connect()
  await client.close()
  t.equal(handled, 0)
  t.equal(client.state, 'closed')
})

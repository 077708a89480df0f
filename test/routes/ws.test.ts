import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { MemoryEngine } from '../../src/pubsub/memory-engine.js'
import type { Recovery, Snapshot } from '../../src/pubsub/engine.js'
import { connect, connectWelcomed, eventually, listen, resettingEngine } from '../helper.js'

t.test('welcome: a distinct nanoid clientId per connection', async (t) => {
  const { url } = await listen(t)
  const a = await connect(t, url)
  const b = await connect(t, url)
  const [wa, wb] = [await a.next(), await b.next()]
  t.match(wa, { type: 'welcome', clientId: /^[A-Za-z0-9_-]{21}$/ })
  t.match(wb, { type: 'welcome', clientId: /^[A-Za-z0-9_-]{21}$/ })
  t.not(wa.clientId, wb.clientId)
})

t.test('subscribe, publish, unsubscribe, ping: replies echo ids, in request order', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  // Sent back to back: the replies must come in this order.
  c.send({ action: 'subscribe', topic: 'news.sports', id: 'sub' })
  c.send({ action: 'ping', id: 1 })
  c.send({ action: 'publish', topic: 'news.sports', message: { score: '2-1' }, id: 2 })
  c.send({ action: 'unsubscribe', topic: 'news.sports', id: 3 })
  c.send({ action: 'publish', topic: 'news.sports', message: 'unheard', id: 4 })
  c.send({ action: 'ping' })
  const frames = await c.take(7)
  t.match(frames[0], { type: 'ack', id: 'sub', action: 'subscribe', topic: 'news.sports', seq: 0, epoch: String })
  t.same(frames[1], { type: 'pong', id: 1 })
  const [message, ack] = frames[2]?.type === 'message' ? [frames[2], frames[3]] : [frames[3], frames[2]]
  t.match(message, { type: 'message', topic: 'news.sports', data: { score: '2-1' }, seq: 1, ts: Number })
  t.notOk('subscription' in (message ?? {}), 'no subscription field for an exact subscription')
  t.same(ack, { type: 'ack', id: 2, action: 'publish', topic: 'news.sports', seq: 1 })
  t.same(frames[4], { type: 'ack', id: 3, action: 'unsubscribe', topic: 'news.sports' })
  t.same(frames[5], { type: 'ack', id: 4, action: 'publish', topic: 'news.sports', seq: 2 }, 'unsubscribed: no message; the sequence goes on')
  t.same(frames[6], { type: 'pong' })
})

t.test('a pattern subscription names the pattern; overlapping ones deliver once', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  t.same(await c.subscribe('news.*'), { type: 'ack', id: 1, action: 'subscribe', topic: 'news.*' })
  await c.subscribe('news.>')
  await c.subscribe('news.*')
  c.request({ action: 'publish', topic: 'news.sports', message: 1 })
  const frames = await c.drain()
  t.equal(frames.filter((f) => f.type === 'message').length, 1)
  t.match(frames.find((f) => f.type === 'message'), { topic: 'news.sports', subscription: /^news\.[*>]$/, data: 1 })
})

t.test('a publish with a key: sent again, it is answered like the first with duplicate: true, and delivered once', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  await c.subscribe('pay')
  c.send({ action: 'publish', topic: 'pay', message: 'p1', key: 'k1', id: 1 })
  const [delivered, ack] = await c.take(2)
  t.match(delivered, { type: 'message', seq: 1, data: 'p1' })
  t.same(ack, { type: 'ack', id: 1, action: 'publish', topic: 'pay', seq: 1, epoch: ack?.epoch }, 'a keyed ack names the epoch')
  t.type(ack?.epoch, 'string')
  c.send({ action: 'publish', topic: 'pay', message: 'p1', key: 'k1', id: 2 })
  t.same(await c.next(), { type: 'ack', id: 2, action: 'publish', topic: 'pay', seq: 1, epoch: ack?.epoch, duplicate: true })
  c.send({ action: 'publish', topic: 'pay', message: 'p2', id: 3 })
  t.match(await c.take(2), [{ type: 'message', seq: 2, data: 'p2' }, { type: 'ack', id: 3, seq: 2 }])
  t.same(await c.drain(), [], 'the duplicate was never delivered')
})

t.test('a publisher subscribed to the topic receives its own message', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  await c.subscribe('me')
  c.send({ action: 'publish', topic: 'me', message: [1, 2], id: 2 })
  const frames = await c.take(2)
  t.ok(frames.some((f) => f.type === 'message' && f.topic === 'me' && f.seq === 1))
})

t.test('historySize 0: recovered only when nothing was missed', async (t) => {
  const { app, url } = await listen(t, { historySize: 0 })
  const c = await connectWelcomed(t, url)
  const first = await c.subscribe('r')
  await app.pubsub.publish('r', 1)
  await app.pubsub.publish('r', 2)
  await c.take(2)
  c.send({ action: 'unsubscribe', topic: 'r', id: 'u' })
  await c.next()
  const rows: Array<[number, string, boolean]> = [
    [2, first.epoch, true],
    [1, first.epoch, false],
    [3, first.epoch, false],
    [2, 'another epoch', false]
  ]
  for (const [since, epoch, recovered] of rows) {
    c.send({ action: 'subscribe', topic: 'r', since, epoch, id: since })
    t.match(await c.next(), { type: 'ack', id: since, seq: 2, epoch: first.epoch, recovered }, `since ${since}, epoch ${epoch}`)
  }
  c.send({ action: 'subscribe', topic: 'r.*', since: 0, id: 'p' })
  t.match(await c.next(), { type: 'ack', id: 'p', recovered: false }, 'a pattern cannot recover')
})

t.test('every error code, and the connection keeps serving', async (t) => {
  const { url } = await listen(t, { maxSubscriptions: 2 })
  const c = await connectWelcomed(t, url)
  const rows: Array<[unknown, string, unknown]> = [
    ['not json', 'BAD_JSON', undefined],
    ['[]', 'BAD_JSON', undefined],
    [{ id: 1 }, 'BAD_REQUEST', 1],
    [{ action: 7, id: 2 }, 'BAD_REQUEST', 2],
    [{ action: 'fly', id: 3 }, 'UNKNOWN_ACTION', 3],
    [{ action: 'subscribe', id: 4 }, 'BAD_REQUEST', 4],
    [{ action: 'subscribe', topic: '', id: 5 }, 'INVALID_TOPIC', 5],
    [{ action: 'subscribe', topic: 'a..b', id: 6 }, 'INVALID_TOPIC', 6],
    [{ action: 'subscribe', topic: 'a.>.b', id: 7 }, 'INVALID_TOPIC', 7],
    [{ action: 'unsubscribe', topic: 'x y', id: 8 }, 'INVALID_TOPIC', 8],
    [{ action: 'unsubscribe', topic: '', id: 'u' }, 'INVALID_TOPIC', 'u'],
    [{ action: 'publish', topic: 'news.*', message: 1, id: 9 }, 'INVALID_TOPIC', 9],
    [{ action: 'publish', topic: '>', message: 1, id: 10 }, 'INVALID_TOPIC', 10],
    [{ action: 'publish', topic: '', message: 1, id: 11 }, 'INVALID_TOPIC', 11],
    [{ action: 'publish', topic: 'x'.repeat(257), message: 1, id: 12 }, 'INVALID_TOPIC', 12],
    [{ action: 'publish', topic: 'a', id: 13 }, 'BAD_REQUEST', 13],
    [{ action: 'subscribe', topic: 'a', since: -2, id: 14 }, 'BAD_REQUEST', 14],
    [{ action: 'publish', topic: 'a', message: 1, key: '', id: 15 }, 'BAD_REQUEST', 15],
    [{ action: 'publish', topic: 'a', message: 1, key: 'k'.repeat(65), id: 16 }, 'BAD_REQUEST', 16],
    [{ action: 'publish', topic: 'a', message: 1, key: 7, id: 17 }, 'BAD_REQUEST', 17],
    [Buffer.from('{"action":"ping"}'), 'BAD_FRAME', undefined]
  ]
  for (const [frame, code, id] of rows) {
    c.send(frame)
    const reply = await c.next()
    t.match(reply, { type: 'error', code, message: String }, `${JSON.stringify(frame).slice(0, 60)} → ${code}`)
    t.equal(reply.id, id)
  }
  await c.subscribe('one')
  await c.subscribe('two')
  await c.subscribe('two')
  c.send({ action: 'subscribe', topic: 'three', id: 'over' })
  t.match(await c.next(), { type: 'error', id: 'over', code: 'TOO_MANY_SUBSCRIPTIONS' })
  c.send({ action: 'ping', id: 'alive' })
  t.same(await c.next(), { type: 'pong', id: 'alive' })
})

t.test('invalid UTF-8 and poisoned messages are error frames, not closes', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  c.send(Buffer.concat([Buffer.from('{"action":"ping","id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]).toString('latin1'))
  c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
  t.match(await c.next(), { type: 'pong' }, 'latin1 text is valid UTF-8 once encoded')
  t.match(await c.next(), { type: 'error', code: 'BAD_JSON' })
  await c.subscribe('p')
  c.send('{"action":"publish","topic":"p","message":{"__proto__":{"admin":true}},"id":1}')
  t.match(await c.next(), { type: 'error', id: 1, code: 'BAD_REQUEST' })
  c.send('{"action":"ping","__proto__":{"admin":true},"id":2}')
  t.same(await c.next(), { type: 'pong', id: 2 }, 'a top-level unknown field is ignored')
  t.same(await c.drain(), [], 'nothing was published')
})

t.test('a message too deep to serialize is BAD_REQUEST, and nothing is published', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  await c.subscribe('deep')
  const deep = '['.repeat(20_000) + ']'.repeat(20_000)
  c.send(`{"action":"publish","topic":"deep","message":${deep},"id":1}`)
  t.match(await c.next(), { type: 'error', id: 1, code: 'BAD_REQUEST' })
  c.request({ action: 'publish', topic: 'deep', message: 'ok' })
  const frames = await c.drain()
  t.match(frames.find((f) => f.type === 'message'), { seq: 1, data: 'ok' }, 'no seq was used up')
})

t.test('a publish over maxPayload is answered BAD_REQUEST; the connection keeps its subscriptions', async (t) => {
  const { url } = await listen(t, { maxPayload: 1024 })
  const c = await connectWelcomed(t, url)
  await c.subscribe('a')
  c.send({ action: 'publish', topic: 'a', message: 'x'.repeat(1500), id: 'big' })
  const refused = await c.next()
  t.match(refused, { type: 'error', id: 'big', code: 'BAD_REQUEST' })
  t.match(refused.message, /^the frame is 15\d\d bytes, over the 1024-byte limit that maxPayload \(MAX_PAYLOAD\) sets$/)
  c.ws.send(Buffer.alloc(1500), { binary: true })
  t.same(Object.keys(await c.next()).sort(), ['code', 'message', 'type'], 'a binary one has no id to echo')
  c.request({ action: 'publish', topic: 'a', message: 'small' })
  const frames = await c.drain()
  t.match(frames.find((f) => f.type === 'message'), { topic: 'a', seq: 1, data: 'small' }, 'still subscribed, and no seq was used up')

  // Past twice the limit ws closes before reading it all: nothing to answer.
  c.send({ action: 'publish', topic: 'a', message: 'x'.repeat(2100) })
  t.equal((await c.closed).code, 1009)
  const fresh = await connectWelcomed(t, url)
  fresh.send({ action: 'ping', id: 1 })
  t.same(await fresh.next(), { type: 'pong', id: 1 })
})

t.test('a frame of exactly maxPayload bytes runs', async (t) => {
  const { url } = await listen(t, { maxPayload: 1024 })
  const c = await connectWelcomed(t, url)
  const frame = JSON.stringify({ action: 'publish', topic: 'a', message: '', id: 1 })
  c.send(JSON.stringify({ action: 'publish', topic: 'a', message: 'x'.repeat(1024 - frame.length), id: 1 }))
  t.match(await c.next(), { type: 'ack', id: 1, seq: 1 })
})

t.test('a client that stops reading is closed with 1013; others get everything', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 256 * 1024 })
  const slow = await connectWelcomed(t, url)
  const fast = await connectWelcomed(t, url)
  await slow.subscribe('flood')
  await fast.subscribe('flood')
  // Stop reading: the kernel buffers fill, then the server's.
  const raw = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket
  raw.pause()
  const payload = 'x'.repeat(8 * 1024)
  const total = 2000
  let received = 0
  const done = new Promise<void>((resolve) => {
    fast.ws.on('message', function count () { if (++received === total) resolve() })
  })
  for (let i = 0; i < total; i++) {
    await app.pubsub.publish('flood', payload)
    // Let the reading client read, as a paced publisher would.
    await new Promise((resolve) => setImmediate(resolve))
  }
  await done
  t.equal(received, total, 'the reading subscriber got every message')
  raw.resume()
  const { code } = await slow.closed
  t.equal(code, 1013)
})

t.test('a client that sends but never reads is closed with 1013 too', async (t) => {
  const warnings: string[] = []
  const stream = { write: (line: string) => { warnings.push(JSON.parse(line).msg) } }
  const { url } = await listen(t, { maxBufferedBytes: 64 * 1024 }, { logger: { level: 'warn', stream } })
  const c = await connectWelcomed(t, url)
  const raw = (c.ws as unknown as { _socket: import('node:net').Socket })._socket
  raw.pause()
  const id = 'x'.repeat(64)
  // Pongs pile up: past the kernel buffers, then past the server's limit.
  await eventually(() => {
    if (warnings.includes('slow consumer: closing')) return true
    for (let i = 0; i < 1000; i++) c.send({ action: 'ping', id })
    return false
  })
  t.ok(warnings.includes('slow consumer: closing'), 'the server gave up on the client')
  raw.resume()
  t.equal((await c.closed).code, 1013)
})

/** A memory engine whose subscribe is live at once but confirmed only on release(): a network engine done wrong. */
function gatedEngine (): { engine: MemoryEngine, release: () => void } {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  class GatedEngine extends MemoryEngine {
    override async snapshot (topic: string, recovery?: Recovery): Promise<Snapshot> {
      const snapshot = await super.snapshot(topic, recovery)
      await gate
      return snapshot
    }
  }
  return { engine: new GatedEngine({ historySize: 0 }), release }
}

t.test('a reset: sent as a frame, except during a subscribe of that key, whose ack stands instead', async (t) => {
  const { engine, reset } = resettingEngine()
  const { url } = await listen(t, { engine })
  const c = await connectWelcomed(t, url)
  const ack = await c.subscribe('lossy')
  t.same(await c.drain(), [], 'no reset ahead of or behind the ack')
  reset('lossy', { seq: 4, epoch: ack.epoch })
  t.same(await c.next(), { type: 'reset', topic: 'lossy', seq: 4, epoch: ack.epoch })
  await c.subscribe('lossy.*')
  reset('lossy.*', undefined)
  t.same(await c.next(), { type: 'reset', topic: 'lossy.*' }, 'a pattern has no position')
})

t.test('an ack comes before the messages of its subscription, even from a slow engine', async (t) => {
  const { engine, release } = gatedEngine()
  const { app, url } = await listen(t, { engine })
  const c = await connectWelcomed(t, url)
  c.send({ action: 'subscribe', topic: 'gated', id: 1 })
  await eventually(async () => (await app.pubsub.publish('gated', 'probe')).delivered === 1)
  await app.pubsub.publish('gated', 'after')
  release()
  const frames = await c.take(3)
  t.match(frames[0], { type: 'ack', id: 1 })
  t.match(frames.slice(1), [{ type: 'message', data: 'probe' }, { type: 'message', data: 'after' }])
})

t.test('a client that leaves while its subscribe is in flight leaves nothing behind', async (t) => {
  const { engine, release } = gatedEngine()
  const { app, url } = await listen(t, { engine })
  const c = await connectWelcomed(t, url)
  c.send({ action: 'subscribe', topic: 'gated', id: 1 })
  await eventually(async () => (await app.pubsub.publish('gated', 'held')).delivered === 1)
  c.ws.terminate()
  await eventually(() => app.websocketServer.clients.size === 0)
  release()
  await eventually(async () => (await app.pubsub.topics()).topics.length === 0)
  t.equal((await app.pubsub.publish('gated', 'nobody')).delivered, 0)
  const fresh = await connectWelcomed(t, url)
  t.same(await fresh.drain(), [], 'still serving')
})

t.test('disconnecting removes every subscription of the connection', async (t) => {
  const { app, url } = await listen(t)
  const c = await connectWelcomed(t, url)
  await c.subscribe('a')
  await c.subscribe('b.*')
  c.close()
  await c.closed
  // The server sees the close right after the client does.
  await eventually(async () => (await app.pubsub.topics()).patterns.length === 0)
  t.same(await app.pubsub.topics(), { topics: [], patterns: [] })
})

t.test('closing the app closes clients with 1001', async (t) => {
  const { app, url } = await listen(t)
  const c = await connectWelcomed(t, url)
  await c.subscribe('a')
  const closed = c.closed
  await app.close()
  t.same(await closed, { code: 1001, reason: 'server shutting down' })
})

t.test('frames sent right after the upgrade are not lost', async (t) => {
  const { url } = await listen(t)
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws')
  t.teardown(() => ws.terminate())
  const frames: unknown[] = []
  ws.on('message', (d) => frames.push(JSON.parse(String(d))))
  ws.on('open', () => { for (let i = 0; i < 20; i++) ws.send(JSON.stringify({ action: 'ping', id: i })) })
  while (frames.length < 21) await once(ws, 'message')
  t.same(frames.slice(1), Array.from({ length: 20 }, (_, id) => ({ type: 'pong', id })))
})

t.test('an unexpected failure is logged once, answered, and the connection keeps serving', async (t) => {
  const engine = new MemoryEngine()
  engine.publish = async () => { throw new Error('disk on fire') }
  const logged: Array<{ level: number, msg: string, err?: { message: string } }> = []
  const stream = { write: (line: string) => { logged.push(JSON.parse(line)) } }
  const { url } = await listen(t, { engine }, { logger: { level: 'error', stream } })
  const c = await connectWelcomed(t, url)
  c.send({ action: 'publish', topic: 'a', message: 1, id: 1 })
  t.same(await c.next(), { type: 'error', id: 1, code: 'UNAVAILABLE', message: 'internal error' })
  t.match(await c.subscribe('a'), { type: 'ack', action: 'subscribe', topic: 'a' })
  t.match(logged, [{ level: 50, msg: 'request failed', err: { message: 'disk on fire' } }])
  t.equal(logged.length, 1)
})

t.test('a publish right behind a subscribe waits for it, so the publisher gets its own message', async (t) => {
  const { engine, release } = gatedEngine()
  const { app, url } = await listen(t, { engine })
  const c = await connectWelcomed(t, url)
  c.send({ action: 'subscribe', topic: 'gated', id: 1 })
  c.send({ action: 'publish', topic: 'gated', message: 'mine', id: 2 })
  c.send({ action: 'publish', topic: 'gated', message: 'mine too', id: 3 })
  // The subscribe is held by the engine: nothing behind it has run.
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(app.pubsub.counters.published.ws, 0)
  release()
  const frames = await c.take(5)
  t.match(frames[0], { type: 'ack', id: 1 })
  t.same(frames.filter((f) => f.type === 'ack').map((f) => f.id), [1, 2, 3], 'acks in request order')
  t.same(frames.filter((f) => f.type === 'message').map((f) => [f.seq, f.data]), [[1, 'mine'], [2, 'mine too']])
})

t.test('a publish arriving while earlier ones wait behind a subscribe does not overtake them', async (t) => {
  // An engine whose publishes wait for the test, as a slow Redis would.
  const gates: Array<() => void> = []
  class SlowPublishes extends MemoryEngine {
    override async publish (topic: string, json: string): ReturnType<MemoryEngine['publish']> {
      await new Promise<void>((resolve) => gates.push(resolve))
      return await super.publish(topic, json)
    }
  }
  const { app, url } = await listen(t, { engine: new SlowPublishes({ historySize: 0 }) })
  const c = await connectWelcomed(t, url)
  c.send({ action: 'subscribe', topic: 'order', id: 's' })
  c.send({ action: 'publish', topic: 'order', message: 1, id: 1 })
  c.send({ action: 'publish', topic: 'order', message: 2, id: 2 })
  await eventually(() => gates.length === 1)
  c.send({ action: 'publish', topic: 'order', message: 3, id: 3 })
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(gates.length, 1, 'publishes 2 and 3 wait for 1')
  // Let them through one at a time, as they come.
  await eventually(() => { gates.shift()?.(); return app.pubsub.counters.published.ws === 3 })
  const frames = await c.take(7)
  t.same(frames.filter((f) => f.type === 'message').map((f) => [f.data, f.seq]), [[1, 1], [2, 2], [3, 3]], 'the engine saw them in request order')
  t.same(frames.filter((f) => f.type === 'ack').map((f) => f.id), ['s', 1, 2, 3])
})

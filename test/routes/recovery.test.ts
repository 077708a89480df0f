// Recovery over the WebSocket protocol, message history over REST, presence.
import t from 'tap'
import type { EngineLink, Recovery, Snapshot } from '../../src/pubsub/engine.js'
import { MemoryEngine } from '../../src/pubsub/memory-engine.js'
import { connectWelcomed, eventually, listen, type Frame } from '../helper.js'

t.test('subscribe with since and epoch: ack, the missed messages in order, then live', async (t) => {
  const { app, url } = await listen(t)
  const first = await connectWelcomed(t, url)
  const ack = await first.subscribe('feed')
  for (let i = 1; i <= 3; i++) await app.pubsub.publish('feed', i)
  t.same((await first.take(3)).map((f) => f.seq), [1, 2, 3])
  first.close()
  for (let i = 4; i <= 6; i++) await app.pubsub.publish('feed', i)

  const back = await connectWelcomed(t, url)
  back.send({ action: 'subscribe', topic: 'feed', since: 3, epoch: ack.epoch, id: 'r' })
  t.same(await back.next(), { type: 'ack', id: 'r', action: 'subscribe', topic: 'feed', seq: 6, epoch: ack.epoch, recovered: true })
  t.same((await back.take(3)).map((f) => [f.type, f.seq, f.data]), [['message', 4, 4], ['message', 5, 5], ['message', 6, 6]])
  await app.pubsub.publish('feed', 7)
  t.match(await back.next(), { type: 'message', seq: 7 })
  back.send({ action: 'subscribe', topic: 'feed', since: 7, epoch: ack.epoch, id: 'again' })
  t.match(await back.next(), { type: 'ack', id: 'again', recovered: true })
  t.same(await back.drain(), [], 'from the latest seq: nothing replayed')
  back.send({ action: 'subscribe', topic: 'feed', since: 1, epoch: 'old', id: 'lost' })
  t.match(await back.next(), { type: 'ack', id: 'lost', recovered: false, seq: 7, epoch: ack.epoch })
  t.same(await back.drain(), [], 'another epoch: nothing replayed, the client refetches')
})

t.test('a replay longer than maxBufferedBytes is paced, and live messages published meanwhile follow it once', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 16 * 1024, historySize: 1000 })
  const payload = 'x'.repeat(1000)
  for (let i = 1; i <= 500; i++) await app.pubsub.publish('big', payload)
  const c = await connectWelcomed(t, url)
  const seqs: number[] = []
  c.ws.on('message', (data) => { const frame = JSON.parse(String(data)); if (frame.type === 'message') seqs.push(frame.seq) })
  const { epoch } = (await app.pubsub.topic('big'))!
  c.send({ action: 'subscribe', topic: 'big', since: 0, epoch, id: 1 })
  // Live publishes race the replay (about 500 KB through a 16 KiB budget).
  for (let i = 501; i <= 600; i++) {
    await app.pubsub.publish('big', payload)
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await eventually(() => seqs.length >= 600, 10_000)
  t.same(seqs, Array.from({ length: 600 }, (_, i) => i + 1), 'seq 1..600 exactly once, in order')
  t.equal(c.ws.readyState, c.ws.OPEN, 'not closed as a slow consumer')
  t.equal(app.pubsubClients.slowConsumers, 0)
})

t.test('a client that stops reading during a replay is closed with 1013 once live messages pile up', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 64 * 1024, historySize: 1000, closeGrace: 100 })
  // 15 MB of replay: more than loopback's socket buffers hold, so the replay stalls.
  const payload = 'x'.repeat(50_000)
  for (let i = 1; i <= 300; i++) await app.pubsub.publish('pile', payload)
  const c = await connectWelcomed(t, url)
  const { epoch } = (await app.pubsub.topic('pile'))!
  c.ws.pause()
  c.send({ action: 'subscribe', topic: 'pile', since: 0, epoch, id: 1 })
  await eventually(async () => {
    if (app.pubsubClients.slowConsumers > 0) return true
    await app.pubsub.publish('pile', payload)
    return false
  })
  t.equal(app.pubsubClients.slowConsumers, 1, 'held live messages count against the same limit')
  t.equal((await app.pubsub.topic('pile'))?.subscribers, 0, 'its subscriptions ended at once')
})

t.test('GET /topics/:topic/history: retained messages after since, oldest first', async (t) => {
  const { app, url } = await listen(t, { historySize: 3 })
  const { epoch } = await app.pubsub.publish('log', { n: 1 })
  for (let n = 2; n <= 5; n++) await app.pubsub.publish('log', { n })
  const res = await fetch(`${url}/topics/log/history?since=3`)
  t.equal(res.status, 200)
  const body = await res.json() as Frame
  t.same(body.messages.map((m: { seq: number, epoch: string, data: unknown }) => [m.seq, m.epoch, m.data]), [[4, epoch, { n: 4 }], [5, epoch, { n: 5 }]])
  t.match(body, { topic: 'log', seq: 5, epoch, first: 3 })
  t.type(body.messages[0].ts, 'number')
  t.same((await (await fetch(`${url}/topics/log/history?limit=1`)).json() as Frame).messages.map((m: { seq: number }) => m.seq), [3])
  const unknown = await fetch(`${url}/topics/nothing.here/history`)
  t.equal(unknown.status, 404)
  t.match(await unknown.json(), { statusCode: 404, code: 'PUBSUB_ERR_TOPIC_NOT_FOUND', error: 'Not Found' })
  for (const [query, field] of [['since=-1', 'since'], ['limit=0', 'limit'], ['limit=1001', 'limit'], ['since=x', 'since']] as const) {
    const bad = await fetch(`${url}/topics/log/history?${query}`)
    t.equal(bad.status, 400, query)
    t.match(await bad.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', message: new RegExp(field) })
  }
  const pattern = await fetch(`${url}/topics/log.*/history`)
  t.equal(pattern.status, 400)
  t.match(await pattern.json(), { code: 'PUBSUB_ERR_INVALID_TOPIC' })
})

t.test('GET /topics/:topic lists subscribers\' client ids, up to presenceLimit', async (t) => {
  const { app, url } = await listen(t, { presenceLimit: 2 })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const c = await connectWelcomed(t, url)
    await c.subscribe('room')
    c.send({ action: 'ping', id: 0 })
    ids.push(String((await app.pubsub.topic('room'))?.clients?.at(-1)))
  }
  await app.pubsub.subscribe('room', () => {})
  const info = await (await fetch(`${url}/topics/room`)).json() as Frame
  t.match(info, { topic: 'room', subscribers: 4 })
  t.equal(info.clients.length, 2, 'at most presenceLimit; in-process subscribers have no id')
  t.ok(info.clients.every((id: string) => /^[\w-]{21}$/.test(id)))
  const none = await listen(t, { presenceLimit: 0 })
  const c = await connectWelcomed(t, none.url)
  await c.subscribe('room')
  t.same((await (await fetch(`${none.url}/topics/room`)).json() as Frame).clients, [])
})

/**
 * A network engine cannot snapshot history and subscribe in one step, so the
 * contract lets its live deliveries overlap the replay. This one re-delivers
 * every replayed message while the subscribe is in flight, as such an engine
 * would, and a publish lands in the same window; the transports must drop
 * the first and keep the second.
 */
class OverlappingEngine extends MemoryEngine {
  /** Resolves once the late copies of the last recovering subscribe were delivered. */
  late: Promise<void> = Promise.resolve()

  #link: EngineLink | undefined

  override attach (link: EngineLink): void {
    super.attach(link)
    this.#link = link
  }

  override async snapshot (topic: string, recovery?: Recovery): Promise<Snapshot> {
    const snapshot = await super.snapshot(topic, recovery)
    const replay = snapshot.replay ?? []
    const link = this.#link as EngineLink
    for (const message of replay) link.deliver(message)
    if (recovery !== undefined) await this.publish(topic, '"during"')
    // And late: after the subscribe has resolved, as a subscriber connection slower than the command one delivers.
    this.late = new Promise((resolve) => {
      setImmediate(() => {
        for (const message of replay) link.deliver(message)
        resolve()
      })
    })
    return snapshot
  }
}

t.test('live deliveries that overlap the replay are dropped, new ones kept: WebSocket and SSE', async (t) => {
  const engine = new OverlappingEngine()
  const { app, url } = await listen(t, { engine })
  const { epoch } = await app.pubsub.publish('overlap', 1)
  for (let i = 2; i <= 4; i++) await app.pubsub.publish('overlap', i)
  const c = await connectWelcomed(t, url)
  c.send({ action: 'subscribe', topic: 'overlap', since: 1, epoch, id: 1 })
  t.match(await c.next(), { type: 'ack', recovered: true, seq: 4 })
  await engine.late
  await app.pubsub.publish('overlap', 6)
  t.same((await c.take(5)).map((f) => [f.seq, f.data]), [[2, 2], [3, 3], [4, 4], [5, 'during'], [6, 6]])
  t.same(await c.drain(), [], 'no duplicate')

  const response = await fetch(`${url}/sse/overlap`, { headers: { 'last-event-id': `${epoch}:1` } })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  let text = ''
  const events = (): number => (text.match(/\n\n/g) ?? []).length
  // retry, subscribed, replay 2..6, then 7 published during the subscribe
  while (events() < 8) text += new TextDecoder().decode((await reader.read()).value)
  await engine.late
  await app.pubsub.publish('overlap', 8)
  while (events() < 9) text += new TextDecoder().decode((await reader.read()).value)
  await reader.cancel()
  t.same([...text.matchAll(/"seq":(\d+),"ts"/g)].map((m) => Number(m[1])), [2, 3, 4, 5, 6, 7, 8], 'once each, in order')
})

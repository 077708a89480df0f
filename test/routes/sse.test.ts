// GET /sse/:topic as curl -N would see it: real HTTP, events parsed as they stream.
import t from 'tap'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { connect as connectTcp } from 'node:net'
import Fastify from 'fastify'
import fastifyPubsub from '../../src/index.js'
import { PUBSUB_ERR_UNAVAILABLE } from '../../src/protocol/errors.js'
import { connectWelcomed, eventually, listen, rawUpgrade, resettingEngine, WAIT_MS } from '../helper.js'
import { sse } from '../sse-client.js'

t.test('a curl -N style client gets subscribed, then every message as an event with id epoch:seq', async (t) => {
  const { app, url } = await listen(t)
  const stream = await sse(t, `${url}/sse/news.sports`)
  t.equal(stream.response.statusCode, 200)
  t.match(stream.response.headers['content-type'], /^text\/event-stream/)
  t.equal(stream.response.headers['cache-control'], 'no-cache')
  const [subscribed] = await stream.until(1)
  t.match(subscribed, { event: 'subscribed', data: { clientId: /^[\w-]{21}$/, topic: 'news.sports', seq: 0, epoch: String } })
  t.equal(subscribed?.id, `${subscribed?.data.epoch}:0`, 'a reconnect before any message resumes from here')
  t.equal(stream.retry, 1000)
  await app.pubsub.publish('news.sports', { score: '1-0' })
  await fetch(`${url}/publish/news.sports`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'goal\nagain' })
  const [, first, second] = await stream.until(3)
  const epoch = subscribed?.data.epoch as string
  t.same(first, { id: `${epoch}:1`, event: 'message', data: { type: 'message', topic: 'news.sports', data: { score: '1-0' }, seq: 1, ts: first?.data.ts } })
  t.match(second, { id: `${epoch}:2`, data: { data: 'goal\nagain', seq: 2 } }, 'a newline in the data stays inside one data line')
  t.match(await app.pubsub.topic('news.sports'), { subscribers: 1, clients: [subscribed?.data.clientId] })
  t.equal(app.pubsubClients.size, 1, 'counted with the connections')
})

t.test('a pattern, URL-encoded: events say which pattern matched and carry no id', async (t) => {
  const { app, url } = await listen(t)
  const stream = await sse(t, `${url}/sse/news.%3E`)
  t.match((await stream.until(1))[0], { event: 'subscribed', data: { topic: 'news.>' } })
  await app.pubsub.publish('news.eu.sports', 1)
  const [, message] = await stream.until(2)
  t.same(message, { event: 'message', data: { type: 'message', topic: 'news.eu.sports', subscription: 'news.>', data: 1, seq: 1, ts: message?.data.ts } })
  const again = await sse(t, `${url}/sse/news.%3E`, { 'last-event-id': 'whatever:1' })
  t.match((await again.until(1))[0], { data: { recovered: false } }, 'a pattern cannot resume')
})

t.test('a reconnect with Last-Event-ID resumes with no gap and no duplicate', async (t) => {
  const { app, url } = await listen(t)
  const first = await sse(t, `${url}/sse/orders`)
  await first.until(1)
  for (let i = 1; i <= 3; i++) await app.pubsub.publish('orders', i)
  const events = await first.until(4)
  first.close()
  for (let i = 4; i <= 6; i++) await app.pubsub.publish('orders', i)
  const lastId = events[3]?.id as string
  const resumed = await sse(t, `${url}/sse/orders`, { 'last-event-id': lastId })
  await resumed.until(4)
  await app.pubsub.publish('orders', 7)
  const got = await resumed.until(5)
  t.match(got[0], { event: 'subscribed', data: { recovered: true, seq: 6 } })
  t.same(got.slice(1).map((e) => e.data.seq), [4, 5, 6, 7])
  const byQuery = await sse(t, `${url}/sse/orders?lastEventId=${encodeURIComponent(lastId)}`)
  t.same((await byQuery.until(5)).slice(1).map((e) => e.data.seq), [4, 5, 6, 7], 'lastEventId in the query works the same')
  const latest = await sse(t, `${url}/sse/orders`, { 'last-event-id': got.at(-1)?.id as string })
  t.match((await latest.until(1))[0], { data: { recovered: true, seq: 7 } }, 'from the latest id: nothing to replay')
  await app.pubsub.publish('orders', 8)
  t.same((await latest.until(2))[1]?.data.seq, 8)
  const stale = await sse(t, `${url}/sse/orders`, { 'last-event-id': 'another-epoch:2' })
  t.match((await stale.until(1))[0], { data: { recovered: false, seq: 8 } })
})

t.test('the subscribed event\'s id is where the stream resumes from: a stream dropped before its replay loses nothing', async (t) => {
  const { app, url } = await listen(t)
  for (let i = 1; i <= 5; i++) await app.pubsub.publish('kept', i)
  const { epoch } = await app.pubsub.topic('kept') as { epoch: string }
  const first = await sse(t, `${url}/sse/kept`, { 'last-event-id': `${epoch}:0` })
  const [subscribed] = await first.until(1)
  t.match(subscribed, { event: 'subscribed', id: `${epoch}:0`, data: { recovered: true, seq: 5 } }, 'the position recovered from, not the head')
  first.close()
  // What a browser does when the stream drops right there: resume from the last id it saw.
  const again = await sse(t, `${url}/sse/kept`, { 'last-event-id': subscribed?.id as string })
  t.same((await again.until(6)).slice(1).map((e) => [e.id, e.data.seq]), [1, 2, 3, 4, 5].map((seq) => [`${epoch}:${seq}`, seq]))
  const stale = await sse(t, `${url}/sse/kept`, { 'last-event-id': 'gone:3' })
  t.match((await stale.until(1))[0], { id: `${epoch}:5`, data: { recovered: false } }, 'not recovered: the latest position')
})

t.test('a reset is an event whose id is where the stream goes on from; during the subscribe the subscribed event stands', async (t) => {
  const { engine, reset } = resettingEngine()
  const { url } = await listen(t, { engine })
  const stream = await sse(t, `${url}/sse/lossy`)
  const [subscribed] = await stream.until(1)
  reset('lossy', { seq: 7, epoch: subscribed?.data.epoch })
  const events = await stream.until(2)
  t.same(events.map((e) => e.event), ['subscribed', 'reset'])
  t.same(events[1], { id: `${subscribed?.data.epoch as string}:7`, event: 'reset', data: { topic: 'lossy', seq: 7, epoch: subscribed?.data.epoch } })
  reset('lossy', undefined)
  t.same((await stream.until(3))[2], { event: 'reset', data: { topic: 'lossy' } }, 'without a position, no id')
})

t.test('bad requests get Fastify error shapes before any stream starts', async (t) => {
  const { url } = await listen(t)
  const badTopic = await fetch(`${url}/sse/news..sports`)
  t.equal(badTopic.status, 400)
  t.match(await badTopic.json(), { statusCode: 400, code: 'PUBSUB_ERR_INVALID_TOPIC', error: 'Bad Request' })
  const badId = await fetch(`${url}/sse/news`, { headers: { 'last-event-id': 'no-colon' } })
  t.equal(badId.status, 400)
  t.match(await badId.json(), { code: 'PUBSUB_ERR_BAD_REQUEST', message: /Last-Event-ID/ })
})

/** A HEAD request, complete: its status and headers once the response has ended (bounded by the socket timeout). */
async function head (url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return await new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'HEAD', headers, timeout: WAIT_MS }, (response) => {
      response.resume()
      response.on('end', () => { resolve(response) })
    })
    request.on('timeout', () => { request.destroy(new Error(`no complete answer within ${WAIT_MS} ms`)) })
    request.on('error', reject).end()
  })
}

t.test('HEAD answers what a GET would, at once, without subscribing or taking a slot', async (t) => {
  const { app, url } = await listen(t, { maxConnections: 1 })
  for (let i = 0; i < 5; i++) {
    const answer = await head(`${url}/sse/news.sports`)
    t.equal(answer.statusCode, 200, `HEAD ${i}`)
    t.match(answer.headers, { 'content-type': /^text\/event-stream/, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
    t.notOk('content-length' in answer.headers, 'no length: a GET streams')
  }
  t.equal(app.pubsubClients.size, 0, 'no connection counted')
  t.match(await app.pubsub.publish('news.sports', 1), { delivered: 0 }, 'no subscription left behind')
  t.match(await app.pubsub.topic('news.sports'), { subscribers: 0 })
  t.equal((await head(`${url}/sse/news..sports`)).statusCode, 400, 'a bad topic')
  t.equal((await head(`${url}/sse/news`, { 'last-event-id': 'no-colon' })).statusCode, 400, 'a bad Last-Event-ID')
  const stream = await sse(t, `${url}/sse/news.sports`)
  t.equal(stream.response.statusCode, 200, 'a GET still gets the one slot')
  t.match((await stream.until(1))[0], { event: 'subscribed' })
  t.equal((await head(`${url}/sse/news.sports`)).statusCode, 503, 'full: as a GET would be')
})

t.test('HEAD with auth on: 401 without a token, 403 outside the grants, 200 within', async (t) => {
  const { createSigner } = await import('fast-jwt')
  const secret = 'sse-head-secret-0123456789abcdef'
  const { app, url } = await listen(t, { auth: { secret } })
  const jwt = createSigner({ key: secret })({ sub: 'head', pubsub: { subscribe: ['news.>'] } })
  t.equal((await head(`${url}/sse/news.sports`)).statusCode, 401)
  t.equal((await head(`${url}/sse/other?token=${jwt}`)).statusCode, 403)
  t.equal((await head(`${url}/sse/news.sports`, { authorization: `Bearer ${jwt}` })).statusCode, 200)
  t.equal(app.pubsubClients.size, 0)
})

t.test('heartbeats are comment lines', async (t) => {
  const { url } = await listen(t, { pingInterval: 20 })
  const stream = await sse(t, `${url}/sse/quiet`)
  await eventually(() => stream.comments >= 2)
  t.pass('two heartbeats')
})

// The default pingInterval: at 20 ms a busy machine's WebSocket client can
// miss a pong, be terminated, and free its slot mid-test.
t.test('SSE streams and WebSockets share maxConnections', async (t) => {
  const { app, url } = await listen(t, { maxConnections: 2 })
  const stream = await sse(t, `${url}/sse/quiet`)
  await connectWelcomed(t, url)
  const full = await fetch(`${url}/sse/quiet`)
  t.equal(full.status, 503)
  t.match(await full.json(), { code: 'PUBSUB_ERR_UNAVAILABLE', message: /connection limit/ })
  const refused = await rawUpgrade(url)
  t.match(refused.status, / 503 /)
  refused.socket.destroy()
  stream.close()
  await eventually(() => app.pubsubClients.size === 1)
  const again = await sse(t, `${url}/sse/quiet`)
  t.equal(again.response.statusCode, 200, 'a freed slot is taken again')
})

t.test('a stream that does not read is cut as a slow consumer; closing the app ends the others', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 64 * 1024 })
  // A raw socket that sends the request and never reads: node's http client keeps reading even when paused.
  const { port } = new URL(url)
  const stuck = connectTcp(Number(port), '127.0.0.1')
  t.teardown(() => stuck.destroy())
  stuck.on('error', () => {})
  stuck.pause()
  stuck.write('GET /sse/flood HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const reader = await sse(t, `${url}/sse/flood`)
  await eventually(async () => (await app.pubsub.topic('flood'))?.subscribers === 2)
  const payload = 'x'.repeat(10_000)
  for (let i = 0; i < 2000 && app.pubsubClients.slowConsumers === 0; i++) {
    await app.pubsub.publish('flood', payload)
    // One message per turn: the reader, in this same process, reads between turns.
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(app.pubsubClients.slowConsumers, 1)
  await eventually(async () => (await app.pubsub.topic('flood'))?.subscribers === 1)
  const ended = new Promise((resolve) => reader.response.on('end', resolve))
  await app.close()
  await ended
  t.pass('the reading stream ended at shutdown, and close did not hang')
})

t.test('a replay longer than maxBufferedBytes is paced; live events published meanwhile follow it once', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 16 * 1024, historySize: 500 })
  for (let i = 1; i <= 300; i++) await app.pubsub.publish('big', 'y'.repeat(1000))
  const { epoch } = (await app.pubsub.topic('big'))!
  const stream = await sse(t, `${url}/sse/big`, { 'last-event-id': `${epoch}:0` })
  for (let i = 301; i <= 350; i++) {
    await app.pubsub.publish('big', 'live')
    await new Promise((resolve) => setImmediate(resolve))
  }
  const events = await stream.until(351)
  t.same(events.slice(1).map((e) => e.data.seq), Array.from({ length: 350 }, (_, i) => i + 1))
  t.equal(app.pubsubClients.slowConsumers, 0)
})

t.test('a stream that stops reading during its replay is cut once live events pile up', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 64 * 1024, historySize: 500 })
  for (let i = 1; i <= 300; i++) await app.pubsub.publish('pile', 'z'.repeat(50_000))
  const { epoch } = (await app.pubsub.topic('pile'))!
  const { port } = new URL(url)
  const stuck = connectTcp(Number(port), '127.0.0.1')
  t.teardown(() => stuck.destroy())
  stuck.on('error', () => {})
  stuck.pause()
  stuck.write(`GET /sse/pile HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: ${epoch}:0\r\n\r\n`)
  await eventually(async () => (await app.pubsub.topic('pile'))?.subscribers === 1)
  await eventually(async () => {
    if (app.pubsubClients.slowConsumers > 0) return true
    await app.pubsub.publish('pile', 'z'.repeat(50_000))
    return false
  })
  t.equal(app.pubsubClients.slowConsumers, 1)
  await eventually(async () => (await app.pubsub.topic('pile'))?.subscribers === 0)
})

t.test('a subscribe that fails after the stream started ends it with an error event', async (t) => {
  const { app, url } = await listen(t)
  // Fault injection: an engine that fails, as a network engine can.
  const original = app.pubsub.connect.bind(app.pubsub)
  t.teardown(() => { app.pubsub.connect = original })
  for (const [failure, code, message] of [
    [new Error('engine exploded'), 'UNAVAILABLE', 'internal error'],
    [new PUBSUB_ERR_UNAVAILABLE('engine unreachable'), 'UNAVAILABLE', 'engine unreachable']
  ] as const) {
    app.pubsub.connect = (subscriber) => {
      const session = original(subscriber)
      session.subscribe = async () => { throw failure }
      return session
    }
    const stream = await sse(t, `${url}/sse/doomed`)
    const ended = new Promise((resolve) => stream.response.on('end', resolve))
    t.match((await stream.until(1))[0], { event: 'error', data: { code, message } })
    await ended
  }
})

t.test('the broker\'s subscription limits reach SSE streams: an error event says why', async (t) => {
  const { url } = await listen(t, { maxPatternTokens: 2 })
  const stream = await sse(t, `${url}/sse/${encodeURIComponent('a.b.*')}`)
  t.match((await stream.until(1))[0], { event: 'error', data: { code: 'INVALID_TOPIC', message: /at most 2 tokens/ } })
})

t.test('a client gone before its subscribe failed: nothing is written, nothing breaks', async (t) => {
  const { app, url } = await listen(t)
  let fail: () => void = () => {}
  const gate = new Promise<void>((resolve) => { fail = resolve })
  const original = app.pubsub.connect.bind(app.pubsub)
  t.teardown(() => { app.pubsub.connect = original })
  app.pubsub.connect = (subscriber) => {
    const session = original(subscriber)
    session.subscribe = async () => { await gate; throw new PUBSUB_ERR_UNAVAILABLE('too late') }
    return session
  }
  const stream = await sse(t, `${url}/sse/gone`)
  await eventually(() => app.pubsubClients.size === 1)
  stream.close()
  await eventually(() => app.pubsubClients.size === 0)
  fail()
  app.pubsub.connect = original
  const next = await sse(t, `${url}/sse/gone`)
  t.match((await next.until(1))[0], { event: 'subscribed' }, 'still serving')
})

t.test('host app headers (CORS) go out with the stream and with HEAD', async (t) => {
  const host = Fastify()
  t.teardown(() => host.close())
  host.addHook('onRequest', async (_request, reply) => { reply.header('access-control-allow-origin', '*') })
  await host.register(fastifyPubsub)
  await host.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(host.server.address() as { port: number }).port}/sse/cors`
  const stream = await sse(t, url)
  t.equal(stream.response.headers['access-control-allow-origin'], '*')
  t.match(stream.response.headers['content-type'], /^text\/event-stream/)
  t.equal((await head(url)).headers['access-control-allow-origin'], '*', 'and with the answer to HEAD')
})

t.test('with auth on, a stream ends with an error event when its token expires', async (t) => {
  const { createSigner } = await import('fast-jwt')
  const secret = 'sse-expiry-secret-0123456789abcdef'
  const { url } = await listen(t, { auth: { secret } })
  // exp is in whole seconds: +2 leaves at least a second to connect (+1 could leave a few ms, and a 401).
  const jwt = createSigner({ key: secret })({ sub: 'brief', pubsub: { subscribe: ['>'] }, exp: Math.floor(Date.now() / 1000) + 2 })
  const stream = await sse(t, `${url}/sse/ticker?token=${jwt}`)
  const ended = new Promise((resolve) => stream.response.on('end', resolve))
  const events = await stream.until(2)
  t.match(events[1], { event: 'error', data: { code: 'FORBIDDEN', message: 'token expired' } })
  await ended
})

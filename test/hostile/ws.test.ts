// Hostile input over WebSocket: every case asserts the exact answer (an error
// frame or a close code), then that the server still serves a fresh client.
import Fastify, { type preHandlerAsyncHookHandler } from 'fastify'
import { once } from 'node:events'
import { Agent, request } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import fastifyPubsub, { type PubsubOptions } from '../../src/index.js'
import { connectWelcomed, eventually, listen, maskedFrame, rawUpgrade, upgradeHead, type Client } from '../helper.js'

async function stillServes (t: Test, url: string): Promise<void> {
  const fresh = await connectWelcomed(t, url)
  fresh.send({ action: 'ping', id: 'alive' })
  t.same(await fresh.next(), { type: 'pong', id: 'alive' }, 'a fresh client is served')
}

/** Whether a fresh upgrade is accepted now. */
async function upgrades (url: string): Promise<boolean> {
  const attempt = await rawUpgrade(url)
  attempt.socket.destroy()
  return / 101 /.test(attempt.status)
}

/** A host app with its own hook in front of the plugin, listening on a free port. */
async function hostApp (t: Test, hook: preHandlerAsyncHookHandler, options: PubsubOptions): Promise<string> {
  const app = Fastify()
  t.teardown(() => app.close())
  app.addHook('preHandler', hook)
  await app.register(fastifyPubsub, options)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

// [name, frame as sent, expected error code]; a string is sent as text as is.
const frames: Array<[string, string | Buffer | object, string]> = [
  ['truncated JSON', '{"action":"ping"', 'BAD_JSON'],
  ['not JSON', 'hello', 'BAD_JSON'],
  ['an empty frame', '', 'BAD_JSON'],
  ['JSON null', 'null', 'BAD_JSON'],
  ['a JSON array', '[{"action":"ping"}]', 'BAD_JSON'],
  ['a JSON string', '"ping"', 'BAD_JSON'],
  ['a JSON number', '42', 'BAD_JSON'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'BAD_JSON'],
  ['an object without action', {}, 'BAD_REQUEST'],
  ['a numeric action', { action: 1 }, 'BAD_REQUEST'],
  ['a null action', { action: null }, 'BAD_REQUEST'],
  ['an object action', { action: { name: 'ping' } }, 'BAD_REQUEST'],
  ['an unknown action', { action: 'explode' }, 'UNKNOWN_ACTION'],
  ['an object id', { action: 'ping', id: { a: 1 } }, 'BAD_REQUEST'],
  ['a 65-character id', { action: 'ping', id: 'i'.repeat(65) }, 'BAD_REQUEST'],
  ['an infinite id', '{"action":"ping","id":1e999}', 'BAD_REQUEST'],
  ['subscribe without topic', { action: 'subscribe' }, 'BAD_REQUEST'],
  ['subscribe to a number', { action: 'subscribe', topic: 7 }, 'BAD_REQUEST'],
  ['subscribe to the empty topic', { action: 'subscribe', topic: '' }, 'INVALID_TOPIC'],
  ['subscribe to an empty token', { action: 'subscribe', topic: 'a..b' }, 'INVALID_TOPIC'],
  ['subscribe to 257 bytes', { action: 'subscribe', topic: 'x'.repeat(257) }, 'INVALID_TOPIC'],
  ['subscribe with > in the middle', { action: 'subscribe', topic: 'a.>.b' }, 'INVALID_TOPIC'],
  ['subscribe with a partial wildcard', { action: 'subscribe', topic: 'news.sp*' }, 'INVALID_TOPIC'],
  ['subscribe to non-ASCII', { action: 'subscribe', topic: 'café' }, 'INVALID_TOPIC'],
  ['subscribe with a slash', { action: 'subscribe', topic: 'a/b' }, 'INVALID_TOPIC'],
  ['a negative since', { action: 'subscribe', topic: 'a', since: -1 }, 'BAD_REQUEST'],
  ['a string since', { action: 'subscribe', topic: 'a', since: '3' }, 'BAD_REQUEST'],
  ['a numeric epoch', { action: 'subscribe', topic: 'a', epoch: 5 }, 'BAD_REQUEST'],
  ['unsubscribe from the empty topic', { action: 'unsubscribe', topic: '' }, 'INVALID_TOPIC'],
  ['publish to a * pattern', { action: 'publish', topic: 'a.*', message: 1 }, 'INVALID_TOPIC'],
  ['publish to >', { action: 'publish', topic: '>', message: 1 }, 'INVALID_TOPIC'],
  ['publish without message', { action: 'publish', topic: 'a' }, 'BAD_REQUEST'],
  ['publish a __proto__ message', '{"action":"publish","topic":"a","message":{"__proto__":{"polluted":true}}}', 'BAD_REQUEST'],
  ['publish a constructor.prototype message', '{"action":"publish","topic":"a","message":{"constructor":{"prototype":{"polluted":true}}}}', 'BAD_REQUEST'],
  ['publish 20,000 levels of nesting', `{"action":"publish","topic":"a","message":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, 'BAD_REQUEST']
]

for (const [name, frame, code] of frames) {
  t.test(`${name}: ${code}`, async (t) => {
    const { url } = await listen(t)
    const c = await connectWelcomed(t, url)
    if (Buffer.isBuffer(frame)) c.ws.send(frame, { binary: false })
    else c.send(frame)
    const reply = await c.next()
    t.match(reply, { type: 'error', code, message: String })
    t.notOk('id' in reply, 'no id to echo')
    c.send({ action: 'ping', id: 1 })
    t.same(await c.next(), { type: 'pong', id: 1 }, 'the connection stays open')
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype polluted')
    await stillServes(t, url)
  })
}

t.test('a binary frame: BAD_FRAME', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  c.ws.send(Buffer.from('{"action":"ping"}'), { binary: true })
  t.match(await c.next(), { type: 'error', code: 'BAD_FRAME' })
  await stillServes(t, url)
})

t.test('a frame over twice maxPayload: close 1009', async (t) => {
  const { url } = await listen(t, { maxPayload: 4096 })
  const c = await connectWelcomed(t, url)
  c.send({ action: 'publish', topic: 'a', message: 'x'.repeat(9000) })
  t.equal((await c.closed).code, 1009)
  await stillServes(t, url)
})

t.test('flooding subscribes: TOO_MANY_SUBSCRIPTIONS past the limit', async (t) => {
  const { app, url } = await listen(t, { maxSubscriptions: 50 })
  const c = await connectWelcomed(t, url)
  for (let i = 0; i < 80; i++) c.send({ action: 'subscribe', topic: `flood.${i}`, id: i })
  const replies = await c.take(80)
  t.equal(replies.filter((r) => r.type === 'ack').length, 50)
  t.ok(replies.slice(50).every((r) => r.code === 'TOO_MANY_SUBSCRIPTIONS'))
  t.equal((await app.pubsub.topics({ limit: 1000 })).topics.length, 50)
  await stillServes(t, url)
})

t.test('issue 14: long patterns and heavy subscription sets are refused, the connection stays', async (t) => {
  const { app, url } = await listen(t, { maxSubscriptionBytes: 1000 })
  const c = await connectWelcomed(t, url)
  // 255 bytes and 128 tokens: within the topic rules, over maxPatternTokens (default 8).
  const long = [...Array.from({ length: 127 }, () => 'a'), '*'].join('.')
  c.send({ action: 'subscribe', topic: long, id: 'long' })
  t.match(await c.next(), { type: 'error', id: 'long', code: 'INVALID_TOPIC', message: /at most 8 tokens/ })
  for (let i = 0; i < 5; i++) c.send({ action: 'subscribe', topic: `${String(i).padStart(240, 'p')}.*`, id: i })
  const replies = await c.take(5)
  t.same(replies.map((r) => r.type), ['ack', 'ack', 'ack', 'ack', 'error'], 'four of 242 bytes fit in 1,000')
  t.match(replies[4], { id: 4, code: 'TOO_MANY_SUBSCRIPTIONS', message: /1000 bytes/ })
  t.equal(app.pubsub.counts().patterns, 4)
  await stillServes(t, url)
})

t.test('a publish flood with rate limiting on: RATE_LIMITED with ids, then close 1008', async (t) => {
  const options: PubsubOptions = { rateLimit: { rate: 10, burst: 20, sustain: 300 } }
  const { url } = await listen(t, options)
  const c = await connectWelcomed(t, url)
  const frames: Array<Record<string, unknown>> = []
  c.ws.on('message', (data) => { frames.push(JSON.parse(String(data))) })
  // Keep flooding, 20 frames every 10 ms, until the server gives up on us.
  let id = 0
  while (c.ws.readyState === 1 && id < 20_000) {
    for (let i = 0; i < 20; i++) c.send({ action: 'publish', topic: 'flood', message: id, id: id++ })
    c.send('not even JSON')
    c.send('null')
    c.send({ action: 'ping', id: `p${id}` })
    c.send({ action: 'ping', id: { not: 'an id' } })
    c.ws.send(Buffer.from('binary'), { binary: true })
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.equal((await c.closed).code, 1008, 'sustained flooding closes the connection')
  const refused = frames.filter((f) => f.code === 'RATE_LIMITED')
  t.ok(refused.length > 0, 'excess frames are refused')
  t.ok(refused.some((f) => typeof f.id === 'number'), 'refusals carry their request id')
  t.ok(refused.some((f) => typeof f.id === 'string'), 'string ids too')
  t.ok(refused.every((f) => ['number', 'string'].includes(typeof f.id) || !('id' in f)), 'and none a wrong one')
  await stillServes(t, url)
})

t.test('a burst over the rate limit is refused, not closed', async (t) => {
  const { url } = await listen(t, { rateLimit: { rate: 50, burst: 100 } })
  const c = await connectWelcomed(t, url)
  // A client resubscribing to 300 topics after a reconnect.
  for (let i = 0; i < 300; i++) c.send({ action: 'subscribe', topic: `resub.${i}`, id: i })
  const replies = await c.take(300)
  t.ok(replies.filter((r) => r.type === 'ack').length >= 100, 'the burst went through')
  t.ok(replies.some((r) => r.code === 'RATE_LIMITED'), 'the rest was refused')
  // A ping once a token is back (1/rate s) is served: refused, never closed.
  // That a second without refusals ends the run: test/transport/flood-guard.test.ts.
  await eventually(async () => {
    c.send({ action: 'ping', id: 'later' })
    const reply = await c.next()
    t.match(reply, { id: 'later' })
    return reply.type === 'pong'
  })
  t.equal(c.ws.readyState, 1, 'and the connection stays')
})

t.test('a flood that stays under the rate limit is served whole', async (t) => {
  const { url } = await listen(t, { rateLimit: { rate: 1000, burst: 100 } })
  const c = await connectWelcomed(t, url)
  for (let i = 0; i < 100; i++) c.send({ action: 'ping', id: i })
  const replies = await c.take(100)
  t.ok(replies.every((r, i) => r.type === 'pong' && r.id === i))
})

t.test('a client that never reads: close 1013, others unaffected', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 128 * 1024, closeGrace: 200 })
  const stuck = await rawUpgrade(url)
  t.match(stuck.status, / 101 /)
  const healthy = await connectWelcomed(t, url)
  stuck.socket.write(maskedFrame('{"action":"subscribe","topic":"flood"}'))
  await healthy.subscribe('flood')
  await eventually(async () => (await app.pubsub.topic('flood'))?.subscribers === 2)
  // The raw socket is paused and never read: its buffers fill, then the server's.
  let received = 0
  healthy.ws.on('message', () => { received++ })
  const payload = 'x'.repeat(8192)
  for (let i = 0; i < 1000; i++) {
    await app.pubsub.publish('flood', payload)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await eventually(() => received >= 1000)
  t.equal((await app.pubsub.topic('flood'))?.subscribers, 1, 'the stuck client was dropped')
  // Past closeGrace without a close handshake it is terminated, and its buffers freed.
  await eventually(() => app.websocketServer.clients.size === 1)
  stuck.socket.resume()
  await once(stuck.socket, 'close')
  await stillServes(t, url)
})

t.test('a client that never answers pings is terminated', async (t) => {
  const { app, url } = await listen(t, { pingInterval: 50 })
  const silent = await rawUpgrade(url)
  t.match(silent.status, / 101 /)
  silent.socket.resume()
  silent.socket.write(maskedFrame('{"action":"subscribe","topic":"quiet"}'))
  await eventually(async () => (await app.pubsub.topic('quiet')) !== undefined)
  // ws clients answer pings by themselves; this one never does.
  await once(silent.socket, 'close')
  await eventually(async () => (await app.pubsub.topic('quiet')) === undefined)
  const polite = await connectWelcomed(t, url)
  await polite.subscribe('polite')
  // Three ping rounds later the polite client (ws answers pings) is still here.
  let pings = 0
  polite.ws.on('ping', () => { pings++ })
  await eventually(() => pings >= 3)
  t.equal(app.websocketServer.clients.size, 1)
  polite.send({ action: 'ping', id: 'still' })
  t.same(await polite.next(), { type: 'pong', id: 'still' })
})

t.test('a TCP reset in the middle of a frame', async (t) => {
  const { app, url } = await listen(t)
  const raw = await rawUpgrade(url)
  const frame = maskedFrame('{"action":"subscribe","topic":"half"}')
  raw.socket.write(frame.subarray(0, 10))
  raw.socket.resetAndDestroy()
  await eventually(() => app.websocketServer.clients.size === 0)
  t.equal(await app.pubsub.topic('half'), undefined)
  await stillServes(t, url)
})

t.test('a TCP reset right after a publish: the publish happened, nothing breaks', async (t) => {
  const { url } = await listen(t)
  const subscriber = await connectWelcomed(t, url)
  await subscriber.subscribe('reset')
  const raw = await rawUpgrade(url)
  raw.socket.write(maskedFrame('{"action":"publish","topic":"reset","message":"last words","id":1}'))
  raw.socket.resetAndDestroy()
  t.match(await subscriber.next(), { type: 'message', data: 'last words' })
  await stillServes(t, url)
})

t.test('many connections opened and dropped leave nothing behind', async (t) => {
  const { app, url } = await listen(t)
  const clients: Client[] = []
  for (let i = 0; i < 200; i++) clients.push(await connectWelcomed(t, url))
  await Promise.all(clients.map(async (c, i) => await c.subscribe(`drop.${i % 20}`)))
  for (const c of clients) c.ws.terminate()
  await eventually(async () => app.websocketServer.clients.size === 0 && (await app.pubsub.topics()).topics.length === 0)
  await stillServes(t, url)
})

t.test('a foreign Origin is refused with 403; the own host and allowed origins pass', async (t) => {
  // Configured as people write it; matched as browsers send it.
  const { url } = await listen(t, { allowedOrigins: ['https://App.example:443/'] })
  const host = new URL(url).host
  const refused = await rawUpgrade(url, { Origin: 'https://evil.example' })
  t.match(refused.status, /^HTTP\/1\.1 403 /)
  t.match(JSON.parse(refused.body), { statusCode: 403, code: 'PUBSUB_ERR_FORBIDDEN', message: /origin/ })
  refused.socket.destroy()
  for (const origin of [`http://${host}`, 'https://app.example']) {
    const ok = await rawUpgrade(url, { Origin: origin })
    t.match(ok.status, / 101 /, origin)
    ok.socket.destroy()
  }
  for (const origin of ['not a url', 'null', `http://${host}/path`, 'https://app.example.evil']) {
    const refused = await rawUpgrade(url, { Origin: origin })
    t.match(refused.status, / 403 /, origin)
    refused.socket.destroy()
  }
  await stillServes(t, url)
})

t.test("allowedOrigins: ['*'] lets every origin in", async (t) => {
  const { url } = await listen(t, { allowedOrigins: ['*'] })
  const any = await rawUpgrade(url, { Origin: 'https://anywhere.example' })
  t.match(any.status, / 101 /)
  any.socket.destroy()
})

t.test('past maxConnections an upgrade answers 503 with a clear body', async (t) => {
  const { url } = await listen(t, { maxConnections: 3 })
  const clients = [await connectWelcomed(t, url), await connectWelcomed(t, url), await connectWelcomed(t, url)]
  const refused = await rawUpgrade(url)
  t.match(refused.status, /^HTTP\/1\.1 503 /)
  t.match(JSON.parse(refused.body), { statusCode: 503, code: 'PUBSUB_ERR_UNAVAILABLE', message: /connection limit reached \(3\)/ })
  refused.socket.destroy()
  clients[0]?.close()
  await clients[0]?.closed
  await eventually(async () => await upgrades(url))
})

t.test('maxConnections holds when a slow hook of the host app delays upgrades', async (t) => {
  // Like an authentication check that takes a while.
  const url = await hostApp(t, async () => { await new Promise((resolve) => setTimeout(resolve, 50)) }, { maxConnections: 5 })
  const attempts = await Promise.all(Array.from({ length: 20 }, async () => await rawUpgrade(url)))
  t.equal(attempts.filter((a) => / 101 /.test(a.status)).length, 5, 'five open')
  t.equal(attempts.filter((a) => / 503 /.test(a.status)).length, 15, 'the rest refused')
  for (const a of attempts) a.socket.destroy()
  // The slots come back: as clients leave, and when a later hook refuses an upgrade.
  await eventually(async () => await upgrades(url))
})

t.test('an upgrade refused by a later hook gives its slot back', async (t) => {
  const url = await hostApp(t, async (request, reply) => {
    if (request.headers.authorization !== 'ok') await reply.code(401).send({ error: 'no' })
  }, { maxConnections: 1 })
  for (let i = 0; i < 3; i++) {
    const denied = await rawUpgrade(url)
    t.match(denied.status, / 401 /)
    denied.socket.destroy()
  }
  const ok = await rawUpgrade(url, { Authorization: 'ok' })
  t.match(ok.status, / 101 /, 'the refusals held no slot')
  ok.socket.destroy()
})

/** Whether `n` upgrades held open at once are all accepted: every slot is free. */
async function allUpgrade (url: string, n: number): Promise<boolean> {
  const attempts = await Promise.all(Array.from({ length: n }, async () => await rawUpgrade(url)))
  for (const a of attempts) a.socket.destroy()
  return attempts.every((a) => / 101 /.test(a.status))
}

// ws answers these 400 itself, in handleUpgrade, after our admit hook took a
// slot: the route handler never runs, nor do onResponse or onRequestAbort.
const malformed: Array<[string, Record<string, string | undefined>]> = [
  ['a bad Sec-WebSocket-Version', { 'Sec-WebSocket-Version': '99' }],
  ['no Sec-WebSocket-Version', { 'Sec-WebSocket-Version': undefined }],
  ['a bad Sec-WebSocket-Key', { 'Sec-WebSocket-Key': 'short' }],
  ['no Sec-WebSocket-Key', { 'Sec-WebSocket-Key': undefined }],
  ['an Upgrade other than websocket', { Upgrade: 'h2c' }]
]

for (const [name, headers] of malformed) {
  t.test(`upgrades with ${name} answer 400 and give their slots back`, async (t) => {
    const { url } = await listen(t, { maxConnections: 10 })
    for (let i = 0; i < 20; i++) {
      const bad = await rawUpgrade(url, headers)
      t.match(bad.status, /^HTTP\/1\.1 400 /, `attempt ${i}`)
      bad.socket.destroy()
    }
    await eventually(async () => await allUpgrade(url, 10))
    await stillServes(t, url)
  })
}

t.test('a client that leaves between its request head and the upgrade gives its slot back', async (t) => {
  let stalled: () => void = () => {}
  const arrived = new Promise<void>((resolve) => { stalled = resolve })
  // A host hook that holds the upgrade until the server has read the
  // client's FIN: ws then destroys the socket without calling the handler.
  const url = await hostApp(t, async (request) => {
    if (request.headers['x-stall'] === undefined) return
    stalled()
    await eventually(() => !request.socket.readable)
  }, { maxConnections: 1 })
  const { hostname, port } = new URL(url)
  const client = connect(Number(port), hostname)
  client.on('error', () => {})
  client.write(upgradeHead(`${hostname}:${port}`, '/ws', { 'X-Stall': '1' }))
  await arrived
  client.destroy()
  await eventually(async () => await upgrades(url))
})

t.test('plain HTTP requests to /ws on a kept-alive connection leave no slot or listener behind', async (t) => {
  const { app, url } = await listen(t, { maxConnections: 1 })
  const sockets: Socket[] = []
  app.server.on('connection', (socket: Socket) => { sockets.push(socket) })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const get = async (): Promise<number> => await new Promise((resolve, reject) => {
    request(`${url}/ws`, { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode as number)) }).on('error', reject).end()
  })
  t.equal(await get(), 404)
  const baseline = sockets[0]?.listenerCount('close')
  for (let i = 0; i < 20; i++) t.equal(await get(), 404, `request ${i}`)
  t.equal(sockets.length, 1, 'one connection, kept alive')
  t.equal(sockets[0]?.listenerCount('close'), baseline, 'no listener left per request')
  t.ok(await upgrades(url), 'no slot held')
})

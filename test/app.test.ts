import fastifyWebsocket from '@fastify/websocket'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import fastifyPubsub from '../src/index.js'
import { once } from 'node:events'
import { connect, connectWelcomed, eventually, listen, rawUpgrade } from './helper.js'

t.test('the seed story: two clients, one publish over WS and one over REST reach both', async (t) => {
  const { url } = await listen(t)
  const alice = await connect(t, url)
  const bob = await connect(t, url)
  const [wa, wb] = [await alice.next(), await bob.next()]
  t.equal(wa.type, 'welcome')
  t.equal(wb.type, 'welcome')
  t.not(wa.clientId, wb.clientId, 'each connection has its own id')
  await alice.subscribe('chat.lobby')
  await bob.subscribe('chat.lobby')

  alice.request({ action: 'publish', topic: 'chat.lobby', message: { from: 'alice', text: 'hi' } })
  const res = await fetch(`${url}/publish/chat.lobby`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'curl', text: 'hello' })
  })
  t.equal(res.status, 200)
  t.match(await res.json(), { topic: 'chat.lobby', seq: 2, delivered: 2 })

  for (const client of [alice, bob]) {
    const messages = (await client.drain()).filter((f) => f.type === 'message')
    t.same(messages.map((m) => [m.seq, m.data]), [[1, { from: 'alice', text: 'hi' }], [2, { from: 'curl', text: 'hello' }]])
  }
})

t.test('mounted under a prefix in another app, beside its own routes and @fastify/websocket', async (t) => {
  // Fastify's defaults, maxParamLength 100 included.
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(fastifyWebsocket)
  host.get('/health', async () => ({ ok: true }))
  host.get('/own-ws', { websocket: true }, (socket) => { socket.send('own') })
  await host.register(fastifyPubsub, { prefix: '/realtime' })
  // The decorator escapes to the host app: its own code publishes in-process.
  host.post('/orders', async () => await host.pubsub.publish('orders.created', { id: 1 }))
  await host.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(host.server.address() as AddressInfo).port}`

  t.same(await (await fetch(`${base}/health`)).json(), { ok: true })
  const c = await connectWelcomed(t, `${base}/realtime`)
  await c.subscribe('orders.*')
  t.match(await (await fetch(`${base}/orders`, { method: 'POST' })).json(), { topic: 'orders.created', seq: 1, delivered: 1 })
  t.match(await c.next(), { type: 'message', topic: 'orders.created', subscription: 'orders.*', data: { id: 1 } })
  t.equal((await fetch(`${base}/realtime/topics`)).status, 200)
  const longTopic = ['a'.repeat(100), 'b'.repeat(100), 'c'.repeat(54)].join('.')
  const long = await fetch(`${base}/realtime/publish/${longTopic}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })
  t.equal(long.status, 200, 'a 256-byte topic routes despite maxParamLength 100')
  t.match(await (await fetch(`${base}/realtime/topics/${longTopic}`)).json(), { topic: longTopic, subscribers: 0, seq: 1 }, 'found: it retains its message')
  t.match(await (await fetch(`${base}/realtime/topics/${longTopic}/history`)).json(), { topic: longTopic, messages: [{ seq: 1, data: 'x' }] })
  t.equal((await fetch(`${base}/topics`)).status, 404, 'nothing outside the prefix')
  const page = await fetch(`${base}/realtime/`)
  t.equal(page.status, 200)
  t.match(await page.text(), /fastify-pubsub console/)
  const redirect = await fetch(`${base}/realtime`, { redirect: 'manual' })
  t.equal(redirect.status, 301)
  t.equal(redirect.headers.get('location'), '/realtime/')
  const withQuery = await fetch(`${base}/realtime?topic=news`, { redirect: 'manual' })
  t.equal(withQuery.headers.get('location'), '/realtime/?topic=news', 'the query is kept')

  const { default: WebSocket } = await import('ws')
  const own = new WebSocket(`${base.replace('http', 'ws')}/own-ws`)
  t.teardown(() => own.terminate())
  const [data] = await new Promise<unknown[]>((resolve) => own.once('message', (...args) => resolve(args)))
  t.equal(String(data), 'own', "the host's own websocket route still works")
})

t.test("with the host's own @fastify/websocket, its maxPayload is the one that applies", async (t) => {
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(fastifyWebsocket, { options: { maxPayload: 1 << 20 } })
  await host.register(fastifyPubsub, { maxPayload: 1024 })
  await host.listen({ host: '127.0.0.1', port: 0 })
  const c = await connectWelcomed(t, `http://127.0.0.1:${(host.server.address() as AddressInfo).port}`)
  c.send({ action: 'publish', topic: 'a', message: 'x'.repeat(4000), id: 1 })
  t.match(await c.next(), { type: 'ack', id: 1, seq: 1 })
})

t.test('the console is served at /', async (t) => {
  const { url } = await listen(t)
  const res = await fetch(`${url}/`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /text\/html/)
  t.match(await res.text(), /<script type="module" src="console\/main.js">/)
  const script = await fetch(`${url}/console/main.js`)
  t.equal(script.status, 200, 'the script, compiled into dist/browser, is served beside the page')
  t.match(script.headers.get('content-type'), /javascript/)
  t.match(await script.text(), /new URL\('ws', location.href\)/)
  t.equal((await fetch(`${url}/client/index.js`)).status, 200, 'with the SDK it imports')
})

t.test('console: false leaves / to the host', async (t) => {
  const { url } = await listen(t, { console: false })
  t.equal((await fetch(`${url}/`)).status, 404)
})

t.test('bad options fail at registration, naming the option', async (t) => {
  // Every option's rows are in test/options.test.ts, against resolveOptions.
  for (const [opts, message] of [[{ maxPayload: 0 }, /maxPayload/], [{ allowedOrigins: ['null'] }, /allowedOrigins/]] as Array<[object, RegExp]>) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(fastifyPubsub, opts as never).ready() }, { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(opts))
  }
})

t.test('1,000 connect, subscribe, disconnect cycles leave the broker empty', async (t) => {
  const { app, url } = await listen(t)
  for (let i = 0; i < 1000; i += 50) {
    const clients = await Promise.all(Array.from({ length: 50 }, async () => await connectWelcomed(t, url)))
    await Promise.all(clients.map(async (c, j) => { await c.subscribe(`cycle.${(i + j) % 7}`); await c.subscribe('cycle.>') }))
    for (const c of clients) c.close()
    await Promise.all(clients.map(async (c) => await c.closed))
  }
  // The server handles each close right after the client sees it.
  await eventually(async () => {
    const page = await app.pubsub.topics()
    return page.topics.length === 0 && page.patterns.length === 0
  })
  t.same(await app.pubsub.topics(), { topics: [], patterns: [] })
  t.equal(app.websocketServer.clients.size, 0, 'no socket left')
})

t.test('graceful close: what was acknowledged reaches subscribers before 1001', async (t) => {
  const { app, url } = await listen(t)
  const subscriber = await connectWelcomed(t, url)
  const publisher = await connectWelcomed(t, url)
  await subscriber.subscribe('last')
  for (let i = 0; i < 100; i++) publisher.send({ action: 'publish', topic: 'last', message: i, id: i })
  const acks = await publisher.take(100)
  t.equal(acks.filter((a) => a.type === 'ack').length, 100, 'all acknowledged')
  const closing = app.close()
  const received = []
  for (;;) {
    const frame = await subscriber.next().catch(() => undefined)
    if (frame === undefined) break
    received.push(frame.data)
    if (received.length === 100) break
  }
  t.same(received, Array.from({ length: 100 }, (_, i) => i), 'every acknowledged message, in order')
  t.same(await subscriber.closed, { code: 1001, reason: 'server shutting down' })
  await closing
})

t.test('graceful close: a client stuck in the close handshake is terminated after closeGrace', async (t) => {
  const { app, url } = await listen(t, { closeGrace: 500 })
  const stuck = await rawUpgrade(url)
  t.match(stuck.status, / 101 /)
  const started = Date.now()
  const closing = app.close()
  // While it drains the server still listens, and refuses upgrades.
  const late = await rawUpgrade(url)
  t.match(late.status, / 503 /)
  late.socket.destroy()
  await closing
  t.ok(Date.now() - started < 5000, 'closed in bounded time')
  stuck.socket.resume()
  await once(stuck.socket, 'close')
})

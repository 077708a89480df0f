// Several fastify-pubsub nodes on one Redis, through their real WebSocket and
// HTTP interfaces; then Redis failing under them.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { nanoid } from 'nanoid'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { loadConfig } from '../../src/server/config.js'
import fastifyPubsub from '../../src/index.js'
import { connectWelcomed, eventually, type Frame } from '../helper.js'
import { logLine, start } from '../server/server-process.js'
import { node, post } from './node.js'
import { redisMissing, RedisProxy, RedisServer } from './redis-server.js'

const missing = redisMissing()

const messages = (frames: Frame[]): Frame[] => frames.filter((f) => f.type === 'message')

t.test('three nodes: a publish on any node reaches subscribers on every node exactly once, in order, wildcards too', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const prefix = `${nanoid(6)}:`
  const [a, b, c] = [await node(t, redis.url, prefix), await node(t, redis.url, prefix), await node(t, redis.url, prefix)]
  const onB = await connectWelcomed(t, b!.url)
  const onC = await connectWelcomed(t, c!.url)
  const patternOnC = await connectWelcomed(t, c!.url)
  await onB.subscribe('chat.lobby')
  await onC.subscribe('chat.lobby')
  await onC.subscribe('chat.*')
  await patternOnC.subscribe('chat.>')
  const publisher = await connectWelcomed(t, a!.url)
  for (let i = 1; i <= 20; i++) publisher.send({ action: 'publish', topic: 'chat.lobby', message: i, id: i })
  const acks = await publisher.take(20)
  t.same(acks.map((f) => f.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'Redis assigns the seqs')
  await post(b!.url, 'chat.lobby', 21)
  for (const client of [onB, onC, patternOnC]) {
    const got = messages(await client.take(21))
    t.same(got.map((f) => [f.seq, f.data]), Array.from({ length: 21 }, (_, i) => [i + 1, i + 1]), 'every message once, in seq order')
    t.same(messages(await client.drain()), [], 'no duplicate behind them')
  }
  t.match(messages(await patternOnC.drain()), [])
  const figures = await (await fetch(`${a!.url}/topics`)).json() as Frame
  t.match(figures.topics, [{ topic: 'chat.lobby', subscribers: 2, seq: 21 }], 'cluster-wide counts, from any node')
  t.same(figures.patterns.map((p: Frame) => [p.pattern, p.subscribers]), [['chat.*', 1], ['chat.>', 1]])
  const one = await (await fetch(`${a!.url}/topics/chat.lobby`)).json() as Frame
  t.equal(one.clients.length, 2, 'presence lists client ids from other nodes')
  t.match(await redis.run(`PUBSUB NUMSUB ${prefix}m:chat.lobby`), /:2\r\n$/, 'one Redis subscription per node (B and C), not per client')
})

t.test('recovery across nodes: a client that left node A resumes on node C', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const prefix = `${nanoid(6)}:`
  const [a, b, c] = [await node(t, redis.url, prefix), await node(t, redis.url, prefix), await node(t, redis.url, prefix)]
  const first = await connectWelcomed(t, a!.url)
  const ack = await first.subscribe('orders')
  for (let i = 1; i <= 3; i++) await post(b!.url, 'orders', i)
  t.same(messages(await first.take(3)).map((f) => f.seq), [1, 2, 3])
  first.close()
  for (let i = 4; i <= 6; i++) await post(b!.url, 'orders', i)
  const back = await connectWelcomed(t, c!.url)
  back.send({ action: 'subscribe', topic: 'orders', since: 3, epoch: ack.epoch, id: 'r' })
  t.match(await back.next(), { type: 'ack', recovered: true, seq: 6, epoch: ack.epoch })
  await post(a!.url, 'orders', 7)
  t.same((await back.take(4)).map((f) => f.seq), [4, 5, 6, 7], 'the missed ones, then live, once each')
  t.same(await back.drain(), [])
  const history = await (await fetch(`${a!.url}/topics/orders/history?since=5`)).json() as Frame
  t.same(history.messages.map((m: Frame) => m.data), [6, 7])
})

t.test('Redis killed and restarted: fast failures, clients stay, subscriptions come back', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const prefix = `${nanoid(6)}:`
  const [a, b] = [await node(t, redis.url, prefix), await node(t, redis.url, prefix)]
  const subscriber = await connectWelcomed(t, b!.url)
  const ack = await subscriber.subscribe('news')
  await post(a!.url, 'news', 'before')
  t.match(await subscriber.next(), { seq: 1, data: 'before' })

  await redis.stop()
  await eventually(async () => (await fetch(`${a!.url}/ready`)).status === 503)
  const started = Date.now()
  const refused = await post(a!.url, 'news', 'during')
  t.equal(refused.status, 503)
  t.match(await refused.json(), { statusCode: 503, code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' })
  t.ok(Date.now() - started < 1000, `failed in ${Date.now() - started} ms, not queued`)
  subscriber.send({ action: 'publish', topic: 'news', message: 'during', id: 'p' })
  t.match(await subscriber.next(), { type: 'error', id: 'p', code: 'UNAVAILABLE' })
  t.equal(subscriber.ws.readyState, subscriber.ws.OPEN, 'the WebSocket client stays connected')

  await redis.restart()
  await eventually(async () => (await fetch(`${a!.url}/ready`)).status === 200 && (await fetch(`${b!.url}/ready`)).status === 200)
  // ioredis has resubscribed node B by itself; the data went with the old Redis.
  await eventually(async () => (await post(a!.url, 'news', 'after')).status === 200)
  const reset = await subscriber.next()
  t.match(reset, { type: 'reset', topic: 'news', seq: 0, epoch: String }, 'the client is told the sequence restarted')
  t.not(reset.epoch, ack.epoch)
  const after = await subscriber.next()
  t.match(after, { type: 'message', data: 'after', seq: 1 }, 'delivered again: a new sequence')
  subscriber.send({ action: 'subscribe', topic: 'news', since: 1, epoch: ack.epoch, id: 'again' })
  t.match(await subscriber.next(), { type: 'ack', id: 'again', recovered: false }, 'what the old Redis held is gone: recovered false')
})

t.test('Redis frozen: publishes fail within the timeout; after it thaws, nothing acknowledged is lost', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const prefix = `${nanoid(6)}:`
  const [a, b] = [await node(t, redis.url, prefix, { timeout: 300 }), await node(t, redis.url, prefix, { timeout: 300 })]
  const subscriber = await connectWelcomed(t, b!.url)
  const ack = await subscriber.subscribe('feed')
  await post(a!.url, 'feed', 1)
  t.match(await subscriber.next(), { seq: 1 })
  redis.freeze()
  t.teardown(() => redis.thaw())
  const started = Date.now()
  const stuck = await post(a!.url, 'feed', 'lost?')
  t.equal(stuck.status, 503)
  t.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms (timeout 300)`)
  redis.thaw()
  await eventually(async () => (await post(a!.url, 'feed', 2)).status === 200)
  // The 503 publish may or may not have been applied (a timeout cannot know):
  // what was acknowledged (1, and the one that succeeded) is all retained.
  const history = await (await fetch(`${a!.url}/topics/feed/history`)).json() as Frame
  t.equal(history.messages.at(-1).data, 2)
  t.equal(history.messages[0].data, 1)
  const late = await connectWelcomed(t, a!.url)
  late.send({ action: 'subscribe', topic: 'feed', since: 0, epoch: ack.epoch, id: 'r' })
  t.match(await late.next(), { type: 'ack', recovered: true })
})

/**
 * Node A on Redis and node B behind a proxy, probing every 100 ms, with a
 * client of B subscribed to `topic`; B's warnings are kept.
 */
async function probedThroughProxy (t: Test, topic: string): Promise<{ proxy: RedisProxy, a: { url: string }, warnings: string[], subscriber: Awaited<ReturnType<typeof connectWelcomed>> }> {
  const redis = await RedisServer.start(t)
  const proxy = await RedisProxy.start(t, redis)
  const prefix = `${nanoid(6)}:`
  const a = await node(t, redis.url, prefix)
  const warnings: string[] = []
  const b = await node(t, proxy.url, prefix, { heartbeat: 100, logger: { info () {}, warn (_obj, msg) { warnings.push(msg) } } })
  const subscriber = await connectWelcomed(t, b.url)
  // A busy machine can still make the probe recycle the connection during the subscribe: try again.
  await eventually(async () => (await subscriber.subscribeOrError(topic)).type === 'ack')
  return { proxy, a, warnings, subscriber }
}

t.test('a subscription that silently stops delivering is noticed by the probe and renewed', { skip: missing }, async (t) => {
  const { proxy, a, warnings, subscriber } = await probedThroughProxy(t, 'quiet')
  proxy.silence()
  // Node B's subscription now hears nothing, though its connection is up.
  let published = 0
  let postedAt = 0
  const got: Frame[] = []
  await eventually(async () => {
    // Ten a second: the probe takes a second or more to give up (probe.ts), and history keeps 100.
    if (Date.now() - postedAt >= 100) {
      postedAt = Date.now()
      await post(a.url, 'quiet', ++published)
    }
    got.push(...messages(await subscriber.drain()))
    return got.length > 0
  }, 10_000)
  t.pass('messages flow again through a renewed subscription')
  await eventually(async () => { got.push(...messages(await subscriber.drain())); return got.length >= published })
  t.same(got.map((f) => f.data), Array.from({ length: published }, (_, i) => i + 1), 'and those published while it was silent came from history, in order')
  t.ok(warnings.includes('redis subscription probe lost: resubscribing'), 'and the node said why')
})

t.test('a subscription slow for a moment (pushes 400 ms late, heartbeat 100 ms) is not taken for a dead one', { skip: missing }, async (t) => {
  const { proxy, a, warnings, subscriber } = await probedThroughProxy(t, 'slow')
  const before = warnings.length
  proxy.lag = 400
  // Probes go out every heartbeat and come back 400 ms later: four heartbeats after.
  await post(a.url, 'slow', 1)
  t.match(await subscriber.next(), { type: 'message', topic: 'slow', data: 1 })
  await post(a.url, 'slow', 2)
  t.match(await subscriber.next(), { type: 'message', topic: 'slow', data: 2 })
  t.same(warnings.slice(before), [], 'the probe waited: no connection recycled')
  proxy.lag = 0
})

t.test('a node that dies drops out of the figures; apps that close leave no connection behind', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const baseline = (await redis.run('CLIENT LIST')).trim().split('\n').length
  const a = await node(t, redis.url, 'pubsub:')
  // Node B in a process of its own, so that it can really crash.
  const b = start({ REDIS_URL: redis.url, REDIS_HEARTBEAT: '100', LOG_LEVEL: 'info' })
  t.teardown(() => b.kill('SIGKILL'))
  const listening = await logLine(b, (l) => String(l.msg).startsWith('Server listening at'))
  const bUrl = String(listening.msg).replace('Server listening at ', '')
  await eventually(async () => (await fetch(`${bUrl}/ready`)).status === 200)
  const client = await connectWelcomed(t, bUrl)
  await client.subscribe('presence')
  await eventually(async () => ((await (await fetch(`${a.url}/topics/presence`)).json()) as Frame).subscribers === 1)
  b.kill('SIGKILL')
  await client.closed
  await eventually(async () => (await fetch(`${a.url}/topics/presence`)).status === 404)
  t.pass("the dead node's subscribers expired from the figures (3 heartbeats)")
  await a.app.close()
  await eventually(async () => (await redis.run('CLIENT LIST')).trim().split('\n').length === baseline)
  t.equal((await redis.run('PUBSUB CHANNELS pubsub:*')).trim(), '*0', 'no Redis subscription left')
})

t.test('engine: { type: "redis" } and REDIS_URL configure it; bad engine options are refused', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, { engine: { type: 'redis', url: redis.url, keyPrefix: `${nanoid(6)}:` } })
  await app.ready()
  await eventually(() => app.pubsub.healthy)
  t.match(await app.pubsub.publish('configured', 1), { seq: 1 })
  const bad = Fastify()
  t.teardown(() => bad.close())
  await t.rejects(async () => { await bad.register(fastifyPubsub, { engine: { type: 'kafka' } as never }) }, { code: 'PUBSUB_ERR_OPTION', message: /engine/ })
})

t.test('--workers 2: two processes share the port through Redis; SIGTERM stops them all', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const port = String(await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => { resolve((probe.address() as AddressInfo).port); probe.close() })
  }))
  const primary = start({ REDIS_URL: redis.url, PORT: port, LOG_LEVEL: 'info' }, ['--workers', '2'])
  t.teardown(() => primary.kill('SIGKILL'))
  const pids = new Set<unknown>()
  await logLine(primary, (l) => { if (String(l.msg).startsWith('Server listening')) pids.add(l.pid); return pids.size === 2 })
  const url = `http://127.0.0.1:${port}`
  await eventually(async () => (await fetch(`${url}/ready`)).status === 200)
  // Round-robin: of four connections, some land on each worker.
  const clients = await Promise.all([1, 2, 3, 4].map(async () => await connectWelcomed(t, url)))
  for (const client of clients) await client.subscribe('all')
  await eventually(async () => ((await (await fetch(`${url}/topics/all`)).json()) as Frame).subscribers === 4)
  await post(url, 'all', 'hello')
  for (const client of clients) t.match(await client.next(), { type: 'message', data: 'hello', seq: 1 })
  // Whichever worker takes the scrape, it answers for both.
  for (let scrape = 0; scrape < 4; scrape++) {
    const text = await (await fetch(`${url}/metrics`)).text()
    t.match(text, /^pubsub_connections 4$/m, 'the connections of both workers')
    t.match(text, /^pubsub_messages_published_total\{transport="http"\} 1$/m)
    t.match(text, /^pubsub_deliveries_total 4$/m)
    t.match(text, /^pubsub_engine_ready 1$/m)
  }
  // A worker that dies is replaced.
  const first = new Set(pids)
  const replaced = logLine(primary, (l) => String(l.msg).startsWith('Server listening') && !first.has(l.pid))
  t.match(await Promise.all([
    logLine(primary, (l) => l.msg === 'worker died: starting another'),
    (async () => { process.kill([...first][0] as number, 'SIGKILL') })()
  ]), [{ level: 40, signal: 'SIGKILL' }])
  await replaced
  await eventually(async () => (await fetch(`${url}/ready`)).status === 200)
  const exited = once(primary, 'exit')
  primary.kill('SIGTERM')
  t.same(await exited, [0, null])
  t.ok((await Promise.all(clients.map(async (c) => (await c.closed).code))).every((code) => code === 1001 || code === 1006), 'each client closed: 1001 by a draining worker, 1006 by the one killed')
})

t.test('--workers 2 on a port in use: the workers exit and the primary gives up with exit 1, no restart loop', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const port = String((taken.address() as AddressInfo).port)
  const primary = start({ REDIS_URL: redis.url, PORT: port, LOG_LEVEL: 'info' }, ['--workers', '2'])
  t.teardown(() => primary.kill('SIGKILL'))
  const lines: Array<Record<string, unknown>> = []
  const exited = once(primary, 'exit')
  await logLine(primary, (l) => { lines.push(l); return false }).catch(() => {})
  t.same(await exited, [1, null])
  t.equal(lines.filter((l) => l.msg === 'worker could not start: giving up').length, 2)
  t.equal(lines.filter((l) => l.msg === 'worker died: starting another').length, 0)
})

t.test('WORKERS above 1 without REDIS_URL, or a bad --workers, stops at startup naming the setting', async (t) => {
  t.throws(() => loadConfig({ WORKERS: '2' }, []), { message: /WORKERS.*REDIS_URL/ })
  t.throws(() => loadConfig({}, ['--workers', '0']), { message: /--workers/ })
  t.throws(() => loadConfig({}, ['--workers']), { message: /--workers/ })
  t.equal(loadConfig({ REDIS_URL: 'redis://x' }, ['--workers=3']).workers, 3)
  t.match(loadConfig({ REDIS_URL: 'redis://x', REDIS_TIMEOUT: '200' }, []).pubsub.engine, { type: 'redis', url: 'redis://x', timeout: 200, heartbeat: 5000 })
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: 'x:7000' }, ['--workers=2']).workers, 2, 'on a Redis Cluster too')
  t.same(loadConfig({}, ['--redis-cluster-nodes', 'x:7000,y:7001', '--redis-key-prefix', 'app:']).pubsub.engine, { type: 'redis-cluster', nodes: ['x:7000', 'y:7001'], timeout: 1000, heartbeat: 5000, keyPrefix: 'app:' })
})

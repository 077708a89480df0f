// The Redis engine passes the same conformance suite as the memory engine,
// against a redis-server of its own.
import t from 'tap'
import { nanoid } from 'nanoid'
import Fastify from 'fastify'
import fastifyPubsub from '../../../src/index.js'
import { Broker } from '../../../src/pubsub/broker.js'
import { RedisEngine } from '../../../src/pubsub/redis/engine.js'
import { engineConformance } from '../../../src/pubsub/conformance.js'
import { eventually, WAIT_MS } from '../../helper.js'
import { redisMissing, RedisServer } from '../../redis/redis-server.js'

const missing = redisMissing()
if (missing !== false) {
  t.comment(`skipped: ${missing}`)
} else {
  const redis = await RedisServer.start(t)
  engineConformance({
    builder: async (settings) => {
      // A prefix of its own: tests share the server, not their topics.
      const engine = new RedisEngine({ url: redis.url, keyPrefix: `${nanoid(6)}:`, heartbeat: 100, ...settings })
      await engine.whenConnected()
      return engine
    },
    test: t,
    wait: WAIT_MS
  })

  t.test('metrics read the local counts; history lives in Redis (0 bytes here)', async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(fastifyPubsub, { engine: new RedisEngine({ url: redis.url, keyPrefix: `${nanoid(6)}:` }) })
    await app.ready()
    await eventually(() => app.pubsub.healthy)
    await app.pubsub.subscribe('m.*', () => {})
    await app.pubsub.publish('m.1', 'x')
    const metrics = (await app.inject('/metrics')).body
    t.match(metrics, /^pubsub_patterns 1$/m)
    t.match(metrics, /^pubsub_history_bytes 0$/m)
  })

  t.test('Redis away: subscribes fail and leave nothing behind, the state change is logged once each way, unsubscribe and close neither hang nor throw', async (t) => {
    const own = await RedisServer.start(t)
    const lines: Array<{ level: string, msg: string, obj: Record<string, unknown> }> = []
    const logger = {
      info (obj: object, msg: string) { lines.push({ level: 'info', msg, obj: obj as Record<string, unknown> }) },
      warn (obj: object, msg: string) { lines.push({ level: 'warn', msg, obj: obj as Record<string, unknown> }) }
    }
    const engine = new RedisEngine({ url: own.url, timeout: 200, heartbeat: 20, logger })
    const broker = new Broker({}, { engine })
    await engine.whenConnected()
    const session = broker.connect({ deliver () {} })
    await session.subscribe('x')
    await own.stop()
    await t.rejects(session.subscribe('y'), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' })
    t.same([...session.subscriptions], ['x'], 'the failed subscription is not kept')
    await eventually(() => lines.length > 0)
    t.match(lines, [{ level: 'warn', msg: /^Redis unreachable/, obj: { reason: /ECONNREFUSED|closed|writeable/ } }])
    // ioredis retries every 50 to 1000 ms and the heartbeat fails every 20 ms: none of it is a line.
    const failedPublish = await engine.publish('x', '1').catch((err: Error) => err)
    t.match(failedPublish, { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' })
    t.notMatch((failedPublish as Error).message, /ioredis|Connection is closed|MaxRetries|writeable|ECONNREFUSED/)
    await own.restart()
    await eventually(() => lines.some((l) => l.msg === 'Redis reachable again'))
    t.same(lines.map((l) => l.msg.split(':')[0]), ['Redis unreachable', 'Redis reachable again'], 'one line when it goes, one when it is back')
    t.match(lines[1], { level: 'info', obj: { downMs: Number } })
    await session.unsubscribe('x')
    await broker.close()
    await engine.close()
    t.equal(engine.healthy(), false)
    await t.rejects(engine.publish('x', '1'), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'engine is closed' })
  })

  t.test('nodes with skewed clocks: a replay starts after the last expired entry, never with a gap', async (t) => {
    const prefix = `${nanoid(6)}:`
    const engine = new RedisEngine({ url: redis.url, keyPrefix: prefix, historyTtl: 60_000 })
    await engine.whenConnected()
    const broker = new Broker({}, { engine })
    t.teardown(() => broker.close())
    for (let i = 1; i <= 4; i++) await broker.publish('skew', i)
    // Rewrite the history as two nodes with clocks a minute apart would have: 1 and 3 look expired.
    const old = Date.now() - 120_000
    const fresh = Date.now()
    const entries = [`1\n${old}\n1`, `2\n${fresh}\n2`, `3\n${old}\n3`, `4\n${fresh}\n4`]
    const resp = ['DEL', `${prefix}history:skew`]
    await redis.run(`*2\r\n${resp.map((part) => `$${part.length}\r\n${part}`).join('\r\n')}`)
    const push = ['RPUSH', `${prefix}history:skew`, ...entries]
    await redis.run(`*${push.length}\r\n${push.map((part) => `$${Buffer.byteLength(part)}\r\n${part}`).join('\r\n')}`)
    const page = await broker.history('skew')
    t.same(page?.messages.map((m) => m.seq), [4], 'not 2 and 4')
    t.equal(page?.first, 4)
  })

  t.test('presence: false: the topic\'s client ids are not stored in Redis, only its count', async (t) => {
    const prefix = `${nanoid(6)}:`
    const engine = new RedisEngine({ url: redis.url, keyPrefix: prefix, heartbeat: 50 })
    await engine.whenConnected()
    const broker = new Broker({ namespaces: { 'typing.>': { presence: false } } }, { engine })
    t.teardown(() => broker.close())
    const session = broker.connect({ clientId: 'client-7', deliver () {} })
    t.teardown(() => { session.close() })
    for (const key of ['typing.lobby', 'chat.lobby', 'typing.*']) await session.subscribe(key)
    const hgetall = ['HGETALL', `${prefix}presence:${engine.nodeId}`]
    const read = async (): Promise<string> => await redis.run(`*2\r\n${hgetall.map((part) => `$${part.length}\r\n${part}`).join('\r\n')}`)
    await eventually(async () => (await read()).includes('typing.*'))
    const hash = await read()
    t.match(hash, /typing\.lobby\r\n\$3\r\n\[1\]\r\n/, 'a count and no ids')
    t.match(hash, /chat\.lobby\r\n\$\d+\r\n\[1,"client-7"\]/, 'elsewhere, the ids')
    t.match(hash, /typing\.\*\r\n\$3\r\n\[1\]/, 'a pattern is counted, and resolved in no namespace')
    t.match(await broker.topic('typing.lobby'), { subscribers: 1, namespace: 'typing.>' })
  })

  t.test('a key prefix with glob characters is refused', async (t) => {
    for (const keyPrefix of ['a*:', 'b?', '[c]:', 'd e', '']) {
      t.throws(() => new RedisEngine({ url: redis.url, keyPrefix }), { code: 'PUBSUB_ERR_OPTION', message: /keyPrefix/ }, JSON.stringify(keyPrefix))
    }
  })

  t.test('whenConnected() gives up when Redis never answers', async (t) => {
    const engine = new RedisEngine({ url: 'redis://127.0.0.1:1', timeout: 100 })
    t.teardown(() => engine.close())
    await t.rejects(engine.whenConnected(200), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' })
  })

  t.test('whenConnected() before a broker attaches: connected, and nothing logged (it was a false "Redis unreachable")', async (t) => {
    const lines: string[] = []
    const log = (_obj: object, msg: string): void => { lines.push(msg) }
    const engine = new RedisEngine({ url: redis.url, keyPrefix: `${nanoid(6)}:`, logger: { info: log, warn: log } })
    t.teardown(() => engine.close())
    await engine.whenConnected()
    t.same(lines, [])
    // Attached afterwards, the heartbeat writes this node's presence as usual.
    const broker = new Broker({}, { engine })
    await broker.connect({ deliver () {} }).subscribe('later')
    await engine.whenConnected()
    t.match(await broker.topic('later'), { subscribers: 1 })
    t.same(lines, [])
  })

  t.test('keys changed by hand under a running node: figures degrade, reads of a broken key fail cleanly', async (t) => {
    const prefix = `${nanoid(6)}:`
    const engine = new RedisEngine({ url: redis.url, keyPrefix: prefix })
    await engine.whenConnected()
    const broker = new Broker({}, { engine })
    t.teardown(() => broker.close())
    await broker.connect({ deliver () {} }).subscribe('kept')
    await redis.run(`DEL ${prefix}meta:kept`)
    t.match((await broker.topics()).topics, [{ topic: 'kept', subscribers: 1, seq: 0, epoch: '' }])
    t.match(await broker.topic('kept'), { subscribers: 1, seq: 0, epoch: '' })
    await redis.run(`SET ${prefix}presence:ghost broken`)
    await redis.run(`ZADD ${prefix}nodes ${Date.now() + 60_000} ghost`)
    await t.rejects(broker.topics(), { code: 'PUBSUB_ERR_UNAVAILABLE', message: /WRONGTYPE/ })
  })
}

// What an operator sees while Redis is away: one line when it goes, one when
// it is back, no error-level line per probe, and 503s in plain words.
import t from 'tap'
import { eventually, listen } from '../helper.js'
import { redisMissing, RedisServer } from '../redis/redis-server.js'
import { logLine, start } from '../server/server-process.js'

const missing = redisMissing()
const IOREDIS = /ioredis|Connection is closed|MaxRetriesPerRequest|writeable|ECONNREFUSED|Stream|at /

interface Line { level: number, msg: string, [key: string]: unknown }

t.test('Redis killed for a while, then back, under /ready probes and publishes', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const lines: Line[] = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line) as Line) } }
  const { app, url } = await listen(t, { engine: { type: 'redis', url: redis.url, timeout: 200 } }, { logger: { level: 'info', stream } })
  await eventually(async () => (await fetch(`${url}/ready`)).status === 200)
  const mark = lines.length
  await redis.stop()
  await eventually(async () => (await fetch(`${url}/ready`)).status === 503)
  // Probes and publishes while it is away: as a load balancer and clients would.
  for (let i = 0; i < 5; i++) {
    const ready = await fetch(`${url}/ready`)
    t.equal(ready.status, 503)
    t.same(await ready.json(), { statusCode: 503, code: 'PUBSUB_ERR_UNAVAILABLE', error: 'Service Unavailable', message: 'not ready: the engine is not connected' })
    const published = await fetch(`${url}/publish/x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    t.equal(published.status, 503)
    const body = await published.json() as { code: string, message: string }
    t.match(body, { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' })
    t.notMatch(JSON.stringify(body), IOREDIS, 'no ioredis text in the body')
  }
  // ioredis has retried several times by now (every 50 ms at first).
  await eventually(() => lines.filter((l) => l.msg.startsWith('Redis')).length === 1)
  await redis.restart()
  await eventually(() => lines.some((l) => l.msg === 'Redis reachable again'))
  await eventually(async () => (await fetch(`${url}/ready`)).status === 200)
  t.equal(app.pubsub.healthy, true)
  const redisLines = lines.filter((l) => l.msg.startsWith('Redis'))
  t.match(redisLines, [{ level: 40, msg: /^Redis unreachable/, reason: String }, { level: 30, msg: 'Redis reachable again', downMs: Number }], 'one line when it goes, one when it is back')
  t.equal(redisLines.length, 2, 'not a line per reconnect attempt')
  t.notOk(lines.some((l) => l.level >= 50 && JSON.stringify(l).includes('/ready')), 'no failed probe at error level')
  t.same(lines.filter((l) => l.level >= 50), [], 'no refused publish at error level either')
  t.equal(lines.filter((l) => l.level === 30 && l.msg === 'the Redis engine is not connected').length, 5, 'each refused publish at info, as a 4xx is')
  t.same(lines.slice(mark).filter((l) => /^(not ready|ready again)/.test(l.msg)).map((l) => [l.level, l.msg]), [[30, 'not ready: the engine is not connected'], [30, 'ready again']], 'readiness changes once each way')
})

t.test('a server started with Redis away says it listens, not that it is ready, and logs the outage once', { skip: missing }, async (t) => {
  const child = start({ LOG_LEVEL: 'info', REDIS_URL: 'redis://127.0.0.1:1', REDIS_TIMEOUT: '200' })
  t.teardown(() => child.kill('SIGKILL'))
  const seen: Array<Record<string, unknown>> = []
  const unreachable = logLine(child, (l) => { seen.push(l); return String(l.msg).startsWith('Redis unreachable') })
  const listening = await logLine(child, (l) => l.msg === 'fastify-pubsub listening')
  t.match(listening, { level: 30, engine: 'redis', engineConnected: false })
  t.match(await unreachable, { level: 40, reason: /ECONNREFUSED/ })
  t.notOk(seen.some((l) => /\bready\b/.test(String(l.msg))), 'nothing says ready')
})

import t from 'tap'
import Fastify from 'fastify'
import fastifyPubsub from '../src/app.js'
import { MemoryEngine } from '../src/pubsub/memory-engine.js'
import { PubsubOptionsSchema } from '../src/options-schema.js'
import type { PubsubOptions } from '../src/options.js'
import { resolveOptions } from '../src/resolve-options.js'
import { connectionsWithin, openFilesLimit } from '../src/transport/open-files.js'

t.test('defaults: one per option, from the schema', async (t) => {
  const resolved = resolveOptions()
  t.match(resolved, {
    engine: undefined,
    maxSubscriptions: 1000,
    maxPatternTokens: 8,
    maxSubscriptionBytes: 65536,
    presenceLimit: 100,
    maxPayload: 65536,
    bodyLimit: 65536,
    maxBufferedBytes: 1048576,
    console: true,
    docs: true,
    metrics: true,
    metricsTopics: 0,
    clusterMetrics: false,
    topicTtl: 300_000,
    maxTopics: 100_000,
    historySize: 100,
    historyTtl: 300_000,
    idempotencyWindow: 300_000,
    maxIdempotencyKeys: 100_000,
    maxConnections: connectionsWithin(openFilesLimit()),
    pingInterval: 25_000,
    closeGrace: 5000,
    allowedOrigins: [],
    rateLimit: false,
    restRateLimit: false,
    underPressure: false,
    namespaces: {},
    authenticator: undefined
  })
  t.notOk('prefix' in resolved, 'the prefix stays out: the routes take the options whole')
  t.ok(Object.isFrozen(resolved))
  t.ok(Object.isFrozen(resolved.allowedOrigins))
  t.same(resolveOptions({}), resolved, 'the same for {}')
})

t.test('nested options get their defaults; the caller\'s objects are copied, not changed', async (t) => {
  const rateLimit = { rate: 5, burst: 10 }
  const underPressure = {}
  const healthCheck = async (): Promise<boolean> => true
  const resolved = resolveOptions({ rateLimit, underPressure, restRateLimit: { max: 3, timeWindow: 1000 } })
  t.same(resolved.rateLimit, { rate: 5, burst: 10, sustain: 5000 })
  t.same(resolved.underPressure, { maxEventLoopDelay: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0, maxEventLoopUtilization: 0, retryAfter: 10, sampleInterval: 1000 })
  t.same(resolved.restRateLimit, { max: 3, timeWindow: 1000 })
  t.same(rateLimit, { rate: 5, burst: 10 }, 'untouched')
  t.same(underPressure, {}, 'untouched')
  t.ok(Object.isFrozen(resolved.rateLimit) && Object.isFrozen(resolved.underPressure) && Object.isFrozen(resolved.restRateLimit))
  const pressure = resolveOptions({ underPressure: { healthCheck, maxRssBytes: 5 } }).underPressure
  t.equal(pressure !== false && pressure.healthCheck, healthCheck, 'healthCheck kept')
  t.equal(pressure !== false && pressure.maxRssBytes, 5)
  t.same(resolveOptions({ rateLimit: false, restRateLimit: false, underPressure: false, auth: false }), resolveOptions())
})

t.test('an Engine instance is kept as it is; origins are normalized; auth makes an authenticator', async (t) => {
  const engine = new MemoryEngine()
  t.teardown(() => engine.close())
  t.equal(resolveOptions({ engine }).engine, engine)
  t.same(resolveOptions({ engine: { type: 'redis', url: 'redis://h' } }).engine, { type: 'redis', url: 'redis://h' })
  t.same(resolveOptions({ allowedOrigins: ['https://App.example.com/'] }).allowedOrigins, ['https://app.example.com'])
  t.ok(resolveOptions({ auth: { secret: '0123456789abcdef0123456789abcdef' } }).authenticator)
  t.throws(() => resolveOptions({ auth: { secret: 'x'.repeat(31) } }), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'auth.secret': "31 bytes" \(an HS256 secret of at least 32 bytes/ }, 'an HS256 secret under 32 bytes is refused, and not printed')
  t.ok(resolveOptions({ auth: { secret: 'é'.repeat(16) } }).authenticator, '32 bytes of UTF-8 are enough')
  t.equal(resolveOptions({ prefix: '/realtime' }).maxPayload, 65536, 'a prefix is accepted')
})

t.test('bad options name the option, its value and what is allowed', async (t) => {
  const rows: Array<[object, RegExp]> = [
    [{ maxPayload: 0 }, /^Invalid option 'maxPayload': 0 \(an integer from 1 to 2147483647\)$/],
    [{ bodyLimit: -1 }, /^Invalid option 'bodyLimit': -1 \(an integer >= 1\)$/],
    [{ maxBufferedBytes: 'lots' }, /^Invalid option 'maxBufferedBytes': "lots" \(an integer >= 1\)$/],
    [{ maxSubscriptions: 1.5 }, /'maxSubscriptions': 1.5/],
    [{ maxPatternTokens: 129 }, /'maxPatternTokens': 129 \(an integer from 1 to 128\)/],
    [{ prefix: 'realtime' }, /^Invalid option 'prefix': "realtime" \(a path starting with '\/'\)$/],
    [{ prefix: 42 }, /'prefix': 42/],
    [{ console: 'yes' }, /^Invalid option 'console': "yes" \(true or false\)$/],
    [{ docs: 1 }, /'docs': 1 \(true or false\)/],
    [{ metrics: 'yes' }, /'metrics'/],
    [{ clusterMetrics: 'yes' }, /'clusterMetrics'/],
    [{ metricsTopics: -1 }, /'metricsTopics': -1 \(an integer from 0 to 10000\)/],
    [{ topicTtl: 0 }, /'topicTtl': 0 \(an integer from 1 to 2147483647 \(ms\)\)/],
    [{ historyTtl: 2 ** 31 }, /'historyTtl'/],
    [{ historySize: -1 }, /'historySize': -1 \(an integer >= 0\)/],
    [{ idempotencyWindow: 0 }, /'idempotencyWindow'/],
    [{ maxIdempotencyKeys: 0 }, /'maxIdempotencyKeys'/],
    [{ presenceLimit: 10_001 }, /'presenceLimit'/],
    [{ maxConnections: -1 }, /'maxConnections'/],
    [{ pingInterval: 0 }, /'pingInterval'/],
    [{ closeGrace: 1.5 }, /'closeGrace'/],
    [{ allowedOrigins: 'https://a.example' }, /^Invalid option 'allowedOrigins': "https:\/\/a.example" \(origins such as/],
    [{ allowedOrigins: [42] }, /'allowedOrigins'.*origins such as/],
    [{ allowedOrigins: ['null'] }, /allowedOrigins/],
    [{ allowedOrigins: ['https://a.example/path'] }, /allowedOrigins/],
    [{ allowedOrigins: ['not an origin'] }, /allowedOrigins/],
    [{ allowedOrigins: ['https://*.example.com'] }, /allowedOrigins/],
    [{ maxPayload: 2 ** 31 }, /maxPayload/],
    [{ pingInterval: 9 }, /'pingInterval': 9 \(an integer from 10 to 2147483647 \(ms\)\)/],
    [{ pingInterval: 2 ** 31 }, /pingInterval/],
    [{ closeGrace: 2 ** 31 }, /closeGrace/],
    [{ maxTopics: 0 }, /maxTopics/],
    [{ rateLimit: true }, /^Invalid option 'rateLimit': true \(false, or \{ rate, burst, sustain\? \}\)$/],
    [{ rateLimit: { rate: 5, burst: 5, sustain: 0 } }, /^Invalid option 'rateLimit.sustain': 0 \(an integer from 1 to 2147483647 \(ms\)\)$/],
    [{ rateLimit: { rate: 0, burst: 5 } }, /'rateLimit.rate': 0 \(an integer >= 1\)/],
    [{ rateLimit: { rate: 5 } }, /^Invalid option 'rateLimit.burst': undefined \(an integer >= 1\)$/],
    [{ restRateLimit: { max: 5, timeWindow: -1 } }, /'restRateLimit.timeWindow': -1/],
    [{ restRateLimit: { timeWindow: 1000 } }, /'restRateLimit.max'/],
    [{ underPressure: 'on' }, /'underPressure': "on" \(false, or an object of thresholds\)/],
    [{ underPressure: { maxHeapUsedBytes: -1 } }, /'underPressure.maxHeapUsedBytes': -1 \(an integer >= 0\)/],
    [{ underPressure: { maxEventLoopUtilization: 2 } }, /'underPressure.maxEventLoopUtilization': 2 \(a number from 0 to 1\)/],
    [{ underPressure: { sampleInterval: 0 } }, /underPressure.sampleInterval/],
    [{ underPressure: { retryAfter: 0 } }, /underPressure.retryAfter/],
    [{ underPressure: { healthCheck: 'yes' } }, /^Invalid option 'underPressure.healthCheck': "yes" \(a function resolving to true or false\)$/],
    [{ engine: { type: 'kafka' } }, /^Invalid option 'engine': \{"type":"kafka"\} \(an Engine, \{ type: 'redis', url \} or \{ type: 'redis-cluster', nodes \}\)$/],
    [{ engine: {} }, /'engine'/],
    [{ engine: 'memory' }, /'engine'/],
    [{ engine: null }, /'engine'/],
    [{ auth: {} }, /'auth'/]
  ]
  for (const [opts, message] of rows) {
    t.throws(() => resolveOptions(opts as never), { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(opts))
  }
})

t.test('every option of the schema has a description and a default, or says how its absence reads', async (t) => {
  for (const [key, schema] of Object.entries(PubsubOptionsSchema.properties) as Array<[string, { description?: string, default?: unknown, shown?: string }]>) {
    t.ok(schema.description, `${key} is described`)
    t.ok(schema.default !== undefined || schema.shown !== undefined, `${key} has a default`)
  }
})

t.test('an unknown option is refused, with the option it is probably meant to be', async (t) => {
  t.throws(() => resolveOptions({ prefx: '/x' } as PubsubOptions), { code: 'PUBSUB_ERR_OPTION', message: "Invalid option 'prefx': \"(hidden)\" (not an option (did you mean 'prefix'?): see docs/configuration.md)" })
  t.throws(() => resolveOptions({ maxpayload: 1 } as PubsubOptions), { message: /did you mean 'maxPayload'/ }, 'case aside')
  t.throws(() => resolveOptions({ wholly: 'unrelated-secret' } as PubsubOptions), { message: "Invalid option 'wholly': \"(hidden)\" (not an option: see docs/configuration.md)" }, 'no guess when none is near, and the value is not shown')
  // What Fastify reads of register()'s options is Fastify's, not ours.
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, { prefix: '/realtime', logLevel: 'warn', logSerializers: {} } as PubsubOptions)
  await app.ready()
  t.equal((await app.inject('/realtime/health')).statusCode, 200)
  const typo = Fastify()
  t.teardown(() => typo.close())
  await t.rejects(async () => { await typo.register(fastifyPubsub, { prefx: '/realtime' } as PubsubOptions) }, { code: 'PUBSUB_ERR_OPTION', message: /'prefx'/ }, 'at registration')
})

t.test('namespaces: checked at resolution, naming the namespace and field; schemas compiled at registration', async (t) => {
  const resolved = resolveOptions({ namespaces: { 'chat.>': { historySize: 5 } } })
  t.same(resolved.namespaces, { 'chat.>': { historySize: 5 } })
  t.ok(Object.isFrozen(resolved.namespaces))
  t.throws(() => resolveOptions({ namespaces: { 'chat.>': { historySize: -1 } } }), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'namespaces\['chat\.>'\]\.historySize': -1 \(an integer >= 0\)/ })
  t.throws(() => resolveOptions({ namespaces: { 'chat.>': { presnce: false } } as never }), { code: 'PUBSUB_ERR_OPTION', message: /namespaces\['chat\.>'\]\.presnce.*did you mean 'presence'/ })
  t.throws(() => resolveOptions({ namespaces: { 'no spaces': {} } }), { code: 'PUBSUB_ERR_OPTION', message: /namespaces\['no spaces'\]/ })
  t.throws(() => resolveOptions({ namespaces: 'chat' as never }), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'namespaces'/ })
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(fastifyPubsub, { namespaces: { 'chat.>': { schema: { type: 'nope' } } } }) }, { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'namespaces\['chat\.>'\]\.schema'/ }, 'a schema that does not compile, at registration')
})

import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import t from 'tap'
import fastifyPubsub from '../../src/app.js'
import { loadConfig, readSettings } from '../../src/server/config.js'
import { selfSignedCertificate } from '../deploy/nginx.js'
import { envName, flagName, SETTINGS, type SettingKey } from '../../src/server/settings.js'
import { WORKED, WORKED_CONFIG_FILE } from '../namespaces-example.js'
import { connectionsWithin, openFilesLimit } from '../../src/transport/open-files.js'

const dir = mkdtempSync(join(tmpdir(), 'pubsub-config-'))
let files = 0
/** A config file holding `content` (JSON-encoded unless a string). */
function configFile (content: unknown): string {
  const path = join(dir, `config-${files++}.json`)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

const KEYS = Object.keys(SETTINGS) as SettingKey[]

/** A valid value other than the default, as typed in the file (`file` when it is written otherwise) and as text for env and flags. */
function sample (key: SettingKey): { typed: unknown, text: string, file?: unknown } {
  const schema = SETTINGS[key] as { type?: string, anyOf?: unknown, default?: unknown, minimum?: number, maximum?: number, unit?: string, wasSeconds?: boolean }
  if (key === 'redisPrimaryChange') return { typed: 'new-epoch', text: 'new-epoch' }
  if (schema.anyOf !== undefined) return { typed: 'debug', text: 'debug' }
  if (schema.unit === 'ms') {
    // A second more, written with its unit.
    const value = (schema.default as number) + 1000
    return { typed: value, text: `${value / 1000}s`, file: schema.wasSeconds === true ? `${value}ms` : value }
  }
  switch (schema.type) {
    case 'integer': {
      const value = Math.min((schema.default as number) + 1, schema.maximum as number)
      return { typed: value, text: String(value) }
    }
    case 'number': return { typed: 0.5, text: '0.5' }
    case 'boolean': {
      const value = schema.default !== true
      return { typed: value, text: String(value) }
    }
    case 'array': return key === 'trustProxy'
      ? { typed: ['127.0.0.1', '10.0.0.0/8'], text: '127.0.0.1, 10.0.0.0/8' }
      : key === 'redisSentinels'
        ? { typed: ['127.0.0.1:26379', '[::1]:26380'], text: '127.0.0.1:26379, [::1]:26380' }
        : key === 'redisClusterNodes'
          ? { typed: ['10.0.0.1:7000', 'redis-2.internal:7001', '[::1]:7002'], text: '10.0.0.1:7000, redis-2.internal:7001, [::1]:7002' }
          : { typed: ['https://a.example', 'https://b.example'], text: 'https://a.example, https://b.example' }
  }
  if (key === 'rateLimit' || key === 'restRateLimit') return { typed: '5,10', text: '5,10' }
  if (key === 'prefix') return { typed: '/rt', text: '/rt' }
  if (key === 'redisUrl') return { typed: 'redis://127.0.0.1:6390', text: 'redis://127.0.0.1:6390' }
  return { typed: `${key}-value`, text: `${key}-value` }
}

t.test('defaults', async (t) => {
  t.same(loadConfig({}, []), {
    host: '127.0.0.1',
    port: 8080,
    logLevel: 'info',
    logPretty: undefined,
    closeTimeout: 15000,
    requestTimeout: 10000,
    workers: 1,
    trustProxy: [],
    warnings: [],
    pubsub: {
      prefix: '',
      maxSubscriptions: 1000,
      maxPatternTokens: 8,
      maxSubscriptionBytes: 65536,
      presenceLimit: 100,
      maxPayload: 65536,
      bodyLimit: 65536,
      maxBufferedBytes: 1048576,
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
      console: true,
      docs: true,
      metrics: true,
      metricsTopics: 0,
      namespaces: {},
      underPressure: { maxEventLoopDelay: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0, maxEventLoopUtilization: 0 }
    }
  })
  t.ok(Object.isFrozen(loadConfig({}, []).pubsub), 'frozen all the way down')
})

t.test('every setting is read from a flag, the environment and the file', async (t) => {
  for (const key of KEYS.filter((key) => SETTINGS[key].fileOnly !== true)) {
    const { typed, text, file = typed } = sample(key)
    t.same(readSettings({}, [`--${flagName(key)}`, text])[key], typed, `--${flagName(key)}`)
    t.same(readSettings({ [envName(key)]: text }, [])[key], typed, envName(key))
    t.same(readSettings({}, ['--config', configFile({ [key]: file })])[key], typed, `${key} in a file`)
  }
  t.equal(new Set(KEYS.map(envName)).size, KEYS.length, 'no two settings share a variable')
  t.equal(new Set(KEYS.map(flagName)).size, KEYS.length, 'or a flag')
})

t.test('every number at the ends of its range passes the plugin\'s own checks too', async (t) => {
  const numeric = KEYS.filter((key) => ['integer', 'number'].includes(SETTINGS[key].type as string) && key !== 'workers')
  for (const end of ['minimum', 'maximum'] as const) {
    const env = Object.fromEntries(numeric.map((key) => [envName(key), String((SETTINGS[key] as unknown as Record<string, unknown>)[end]) + (SETTINGS[key].unit === 'ms' ? 'ms' : '')]))
    const config = loadConfig({ ...env, JWT_SECRET: '0123456789abcdef0123456789abcdef' }, [])
    const app = Fastify()
    await app.register(fastifyPubsub, config.pubsub)
    await t.resolves(async () => { await app.ready() }, `every setting at its ${end}`)
    await app.close()
  }
})

t.test('precedence: flag, then environment, then file, then default', async (t) => {
  const file = configFile({ port: 1000, host: '0.0.0.0', logLevel: 'debug', historySize: 5 })
  const settings = readSettings({ CONFIG_FILE: file, PORT: '2000', HOST: '::1' }, ['--port', '3000'])
  t.equal(settings.port, 3000, 'the flag beats the environment and the file')
  t.equal(settings.host, '::1', 'the environment beats the file')
  t.equal(settings.logLevel, 'debug', 'the file beats the default')
  t.equal(settings.closeTimeout, 15_000, 'the default when nobody says')
  t.equal(readSettings({ CONFIG_FILE: configFile({ port: 1 }) }, ['--config', file]).port, 1000, '--config beats CONFIG_FILE')
  t.equal(readSettings({ PORT: '' }, []).port, 8080, 'an empty variable is unset')
  t.equal(readSettings({}, ['--port=4000']).port, 4000, '--flag=value works too')
  t.equal(readSettings({ MAX_EVENT_LOOP_UTILIZATION: '.5' }, []).maxEventLoopUtilization, 0.5, 'a fraction without its 0')
})

t.test('the file maps onto the plugin options like the environment does', async (t) => {
  const config = loadConfig({}, ['--config', configFile({ topicTtl: '1m', historyTtl: '30s', idempotencyWindow: '90000ms', closeGrace: 250, rateLimit: '50,100', restRateLimit: 'off', redisUrl: 'redis://127.0.0.1:6390', workers: 2, underPressure: false, jwtSecret: '0123456789abcdef0123456789abcdef', publishApiKey: 'k', jwtClockTolerance: 5, jwtMaxGrants: 50 })])
  t.match(config.pubsub, {
    topicTtl: 60_000,
    historyTtl: 30_000,
    idempotencyWindow: 90_000,
    closeGrace: 250,
    rateLimit: { rate: 50, burst: 100 },
    restRateLimit: false,
    engine: { type: 'redis', url: 'redis://127.0.0.1:6390', timeout: 1000, heartbeat: 5000, keyPrefix: 'pubsub:' },
    underPressure: false,
    auth: { secret: '0123456789abcdef0123456789abcdef', apiKey: 'k', clockTolerance: 5, maxGrants: 50 }
  })
  t.equal(config.workers, 2)
})

t.test('Sentinel: REDIS_SENTINELS and REDIS_SENTINEL_NAME make the Redis engine follow the primary they name', async (t) => {
  const config = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_TIMEOUT: '500', WORKERS: '2' }, [])
  t.same(config.pubsub.engine, { type: 'redis', timeout: 500, heartbeat: 5000, keyPrefix: 'pubsub:', sentinels: ['10.0.0.1:26379', '10.0.0.2:26379'], name: 'mymaster' })
  t.same(config.warnings, [], 'the Redis settings act with sentinels too')
  t.equal(config.workers, 2)
  const all = loadConfig({}, ['--redis-sentinels', '[::1]:26379', '--redis-sentinel-name', 'm', '--redis-password', 'pw', '--redis-sentinel-password', 'spw', '--redis-primary-change', 'continue'])
  t.match(all.pubsub.engine, { sentinels: ['[::1]:26379'], name: 'm', password: 'pw', sentinelPassword: 'spw', primaryChange: 'continue' })
  t.match(loadConfig({ REDIS_URL: 'redis://h', REDIS_PRIMARY_CHANGE: 'new-epoch' }, []).pubsub.engine, { url: 'redis://h', primaryChange: 'new-epoch' }, 'with a URL, the check can be turned on')
  t.same(loadConfig({ REDIS_SENTINEL_NAME: 'm', REDIS_PASSWORD: 'pw', REDIS_PRIMARY_CHANGE: 'continue' }, []).warnings, [
    'redisPrimaryChange (REDIS_PRIMARY_CHANGE, --redis-primary-change) has no effect without redisUrl, redisSentinels or redisClusterNodes',
    'redisSentinelName (REDIS_SENTINEL_NAME, --redis-sentinel-name) has no effect without redisSentinels',
    'redisPassword (REDIS_PASSWORD, --redis-password) has no effect without redisSentinels or redisClusterNodes'
  ])
  const rows: Array<[Record<string, string>, RegExp]> = [
    [{ REDIS_URL: 'redis://:s3cret@h', REDIS_SENTINELS: 'h:26379', REDIS_SENTINEL_NAME: 'm' }, /^(?!.*s3cret)Invalid option 'redisUrl \(REDIS_URL, --redis\) and redisSentinels \(REDIS_SENTINELS, --redis-sentinels\)': "\(hidden\)" \(one of them only: the sentinels name the primary\)$/],
    [{ REDIS_SENTINELS: 'h:26379' }, /^Invalid option 'redisSentinelName \(REDIS_SENTINEL_NAME, --redis-sentinel-name\)': undefined \(used with redisSentinels \(REDIS_SENTINELS, --redis-sentinels\): the name they monitor the primary under\)$/],
    [{ REDIS_SENTINELS: 'h:26379, h' }, /^Invalid option 'REDIS_SENTINELS': \["h:26379","h"\] \(a non-empty list of 'host:port'.*\(comma-separated outside the file\)\)$/],
    [{ REDIS_SENTINELS: 'h:26379', REDIS_SENTINEL_NAME: 'm', REDIS_PRIMARY_CHANGE: 'never' }, /REDIS_PRIMARY_CHANGE/]
  ]
  for (const [env, message] of rows) t.throws(() => loadConfig(env, []), { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(env))
})

t.test('durations are ms, and read 250ms, 30s, 5m, 1h from flags, the environment and the file', async (t) => {
  const rows: Array<[string, string, number]> = [
    ['CLOSE_TIMEOUT', '30s', 30_000],
    ['CLOSE_TIMEOUT', '250ms', 250],
    ['CLOSE_TIMEOUT', '2500', 2500],
    ['CLOSE_TIMEOUT', '1.5s', 1500],
    ['CLOSE_TIMEOUT', '.29s', 290],
    ['REDIS_HEARTBEAT', '1m', 60_000],
    ['TOPIC_TTL', '1h', 3_600_000],
    ['HISTORY_TTL', '5m', 300_000],
    ['IDEMPOTENCY_WINDOW', '300000ms', 300_000],
    ['MAX_EVENT_LOOP_DELAY', '0', 0]
  ]
  for (const [name, text, ms] of rows) {
    const key = (Object.keys(SETTINGS) as SettingKey[]).find((k) => envName(k) === name) as SettingKey
    t.equal(readSettings({ [name]: text }, [])[key], ms, `${name}=${text}`)
  }
  t.equal(readSettings({}, ['--topic-ttl', '90s']).topicTtl, 90_000, 'a flag')
  t.equal(readSettings({}, ['--config', configFile({ pingInterval: '1m', closeTimeout: 2000 })]).pingInterval, 60_000, 'the file, as text')
  t.equal(readSettings({}, ['--config', configFile({ closeTimeout: 2000 })]).closeTimeout, 2000, 'the file, as a number of ms')
  t.equal(loadConfig({ TOPIC_TTL: '2m' }, []).pubsub.topicTtl, 120_000, 'handed to the plugin in ms')
})

t.test('a bare number for a setting that took seconds before is refused, not read as ms', async (t) => {
  for (const [env, argv, where] of [[{ TOPIC_TTL: '300' }, [], 'TOPIC_TTL'], [{ HISTORY_TTL: '60' }, [], 'HISTORY_TTL'], [{}, ['--idempotency-window', '300'], '--idempotency-window']] as Array<[Record<string, string>, string[], string]>) {
    t.throws(() => loadConfig(env, argv), { code: 'PUBSUB_ERR_OPTION', message: new RegExp(`^Invalid option '${where}': "\\d+" \\(a duration with its unit, from 1ms to 2147483647ms, such as '30s' or '5m' \\(a bare number is refused: this setting took seconds before\\)\\)$`) }, where)
  }
  t.throws(() => loadConfig({}, ['--config', configFile({ topicTtl: 300 })]), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'topicTtl in .*': 300 \(a duration with its unit/ }, 'in the file too')
})

t.test('settings given where they cannot act are warned about, not refused', async (t) => {
  t.same(loadConfig({ REDIS_TIMEOUT: '500', JWT_CLOCK_TOLERANCE: '5', METRICS: 'false', METRICS_TOPICS: '10', UNDER_PRESSURE: 'false', MAX_RSS_BYTES: '1000', REDIS_HEARTBEAT: '5000' }, []).warnings, [
    'redisTimeout (REDIS_TIMEOUT, --redis-timeout) has no effect without redisUrl, redisSentinels or redisClusterNodes',
    'jwtClockTolerance (JWT_CLOCK_TOLERANCE, --jwt-clock-tolerance) has no effect without jwtSecret, jwtPublicKey or jwtJwks',
    'metricsTopics (METRICS_TOPICS, --metrics-topics) has no effect without metrics',
    'maxRssBytes (MAX_RSS_BYTES, --max-rss-bytes) has no effect without underPressure'
  ], 'REDIS_HEARTBEAT at its default says nothing')
  const cluster = loadConfig({ REDIS_CLUSTER_NODES: 'h:7000', REDIS_TIMEOUT: '500', REDIS_PRIMARY_CHANGE: 'continue', REDIS_PASSWORD: 'pw' }, [])
  t.same(cluster.warnings, [], 'the cluster engine takes the Redis settings too')
  t.match(cluster.pubsub.engine, { type: 'redis-cluster', timeout: 500, primaryChange: 'continue', password: 'pw' })
  t.match(loadConfig({ REDIS_CLUSTER_NODES: 'h:7000', REDIS_CLUSTER_TLS: 'true' }, []).pubsub.engine, { tls: true }, 'TLS with the system CAs')
  const ca = loadConfig({ REDIS_CLUSTER_NODES: 'h:7000', REDIS_CLUSTER_TLS_CA: new URL('../../package.json', import.meta.url).pathname }, []).pubsub.engine as { tls: { ca: string } }
  t.match(ca.tls.ca, /"name": "fastify-pubsub"/, 'a CA file is read at startup and turns TLS on')
  t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'h:7000', REDIS_CLUSTER_TLS_CA: '/nonexistent/ca.pem' }, []), { message: /redisClusterTlsCa \(REDIS_CLUSTER_TLS_CA, --redis-cluster-tls-ca\)': "\/nonexistent\/ca.pem" \(a readable file/ })
  t.same(loadConfig({ REDIS_URL: 'redis://h', REDIS_CLUSTER_TLS: 'true' }, []).warnings, ['redisClusterTls (REDIS_CLUSTER_TLS, --redis-cluster-tls) has no effect without redisClusterNodes'])
  t.same(loadConfig({ REDIS_URL: 'redis://h', REDIS_TIMEOUT: '500', JWT_SECRET: '0123456789abcdef0123456789abcdef', JWT_CLOCK_TOLERANCE: '5', METRICS_TOPICS: '10', MAX_RSS_BYTES: '1000' }, []).warnings, [], 'each with what it needs')
})

t.test('invalid values name the setting where it was read, the value and what is allowed', async (t) => {
  const file = (content: unknown): string[] => ['--config', configFile(content)]
  const rows: Array<[Record<string, string>, string[], RegExp]> = [
    [{ PORT: 'http' }, [], /Invalid option 'PORT': "http" \(an integer from 0 to 65535\)/],
    [{ PORT: '70000' }, [], /'PORT': 70000 \(an integer from 0 to 65535\)/],
    [{ PORT: '-1' }, [], /'PORT'/],
    [{}, ['--port', '1.5'], /'--port': 1.5 \(an integer/],
    [{}, ['--port', '0x10'], /'--port': "0x10"/],
    [{}, file({ port: '8080' }), /'port in .*config-\d+\.json': "8080" \(an integer/],
    [{ LOG_LEVEL: 'loud' }, [], /'LOG_LEVEL': "loud" \(one of fatal, error, warn, info, debug, trace, silent\)/],
    [{ LOG_PRETTY: 'yes' }, [], /'LOG_PRETTY': "yes" \(true or false\)/],
    [{}, ['--metrics', 'no'], /'--metrics': "no" \(true or false\)/],
    [{ MAX_PAYLOAD: '0' }, [], /MAX_PAYLOAD/],
    [{ MAX_PAYLOAD: String(2 ** 31) }, [], /MAX_PAYLOAD/],
    [{ BODY_LIMIT: '1.5' }, [], /BODY_LIMIT/],
    [{ MAX_SUBSCRIPTIONS: 'many' }, [], /MAX_SUBSCRIPTIONS/],
    [{ MAX_BUFFERED_BYTES: '1e400' }, [], /MAX_BUFFERED_BYTES/],
    [{ CLOSE_TIMEOUT: '0' }, [], /CLOSE_TIMEOUT/],
    [{ CLOSE_TIMEOUT: String(2 ** 31) }, [], /CLOSE_TIMEOUT/],
    [{ REQUEST_TIMEOUT: '0' }, [], /REQUEST_TIMEOUT/],
    [{ TOPIC_TTL: '-5' }, [], /TOPIC_TTL/],
    [{ TOPIC_TTL: '0s' }, [], /TOPIC_TTL/],
    [{ TOPIC_TTL: '5 m' }, [], /TOPIC_TTL/],
    [{ TOPIC_TTL: '5d' }, [], /TOPIC_TTL/],
    [{ CLOSE_TIMEOUT: '0.5ms' }, [], /'CLOSE_TIMEOUT': "0.5ms" \(a duration from 1ms to 2147483647ms, such as '250ms', '30s', '5m' or '1h' \(a bare number is ms\)\)/],
    [{ CLOSE_TIMEOUT: '25d' }, [], /CLOSE_TIMEOUT/],
    [{ CLOSE_TIMEOUT: '600h' }, [], /'CLOSE_TIMEOUT': "600h"/],
    [{}, file({ closeTimeout: true }), /'closeTimeout in .*': true \(a duration/],
    [{ HISTORY_SIZE: '-1' }, [], /HISTORY_SIZE/],
    [{ HISTORY_TTL: '0' }, [], /HISTORY_TTL/],
    [{ PRESENCE_LIMIT: 'all' }, [], /PRESENCE_LIMIT/],
    [{ MAX_CONNECTIONS: '0' }, [], /MAX_CONNECTIONS/],
    [{ PING_INTERVAL: '5' }, [], /PING_INTERVAL/],
    [{ WORKERS: '0' }, [], /WORKERS/],
    [{ RATE_LIMIT: '50' }, [], /'RATE_LIMIT': "50" \('off', or two integers >= 1/],
    [{ RATE_LIMIT: '50,0' }, [], /RATE_LIMIT/],
    [{ RATE_LIMIT: '1,2,3' }, [], /RATE_LIMIT/],
    [{ RATE_LIMIT: 'fast' }, [], /RATE_LIMIT/],
    [{ REST_RATE_LIMIT: '10' }, [], /REST_RATE_LIMIT/],
    [{ TRUST_PROXY: 'true' }, [], /'TRUST_PROXY': \["true"\] \(IP addresses or CIDR ranges/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, [], /TRUST_PROXY/],
    [{ PREFIX: 'rt' }, [], /'PREFIX': "rt" \(empty, or a path such as '\/realtime'/],
    [{ PREFIX: '/x?y' }, [], /PREFIX/],
    [{ PREFIX: '/:id' }, [], /PREFIX/],
    [{ PREFIX: '/rt/' }, [], /PREFIX/],
    [{ PREFIX: '/..' }, [], /PREFIX/],
    [{ PREFIX: '/a/./b' }, [], /PREFIX/],
    [{ REDIS_KEY_PREFIX: 'a*:' }, [], /'REDIS_KEY_PREFIX': "a\*:" \(letters, digits and _.:-/],
    [{ METRICS_TOPICS: '20000' }, [], /METRICS_TOPICS/],
    [{ MAX_EVENT_LOOP_UTILIZATION: '2' }, [], /'MAX_EVENT_LOOP_UTILIZATION': 2 \(a number from 0 to 1\)/],
    [{ MAX_EVENT_LOOP_DELAY: '-1' }, [], /MAX_EVENT_LOOP_DELAY/],
    [{}, file({ allowedOrigins: 'https://a.example' }), /allowedOrigins in .*: "https:\/\/a.example" \(origins such as/],
    [{ ALLOWED_ORIGINS: 'https://*.example.com' }, [], /ALLOWED_ORIGINS.*no wildcard subdomain/],
    [{ ALLOWED_ORIGINS: 'https://a.com:99999' }, [], /ALLOWED_ORIGINS/],
    [{ ALLOWED_ORIGINS: 'https://a.example, app.example.com' }, [], /'ALLOWED_ORIGINS': \["https:\/\/a.example","app.example.com"\] \(origins such as/],
    [{ ALLOWED_ORIGINS: 'https://a.example/path' }, [], /ALLOWED_ORIGINS/],
    [{}, file({ host: '' }), /'host in .*': "" \(a non-empty string\)/],
    [{}, file({ prot: 8080 }), /'prot in .*config-\d+\.json': "\(hidden\)" \(not a setting/],
    [{}, file({ jwtSecret: 42 }), /'jwtSecret in .*': "\(hidden\)" \(a non-empty string\)/],
    [{ REDIS_URL: 'localhost:6379' }, [], /'REDIS_URL': "\(hidden\)" \(a redis:\/\/ or rediss:\/\/ URL/],
    [{ REDIS_URL: 'redis://:s3cret@127.0.0.1:99999' }, [], /^(?!.*s3cret).*'REDIS_URL': "\(hidden\)"/],
    [{ REDIS_URL: 'redis://127.0.0.1:6379/abc' }, [], /REDIS_URL/],
    [{}, file('{"port": 80'), /'CONFIG_FILE \(--config\)': ".*" \(a readable JSON file/],
    [{}, file('[1]'), /'CONFIG_FILE \(--config\)': ".*" \(a JSON object of settings\)/],
    [{ CONFIG_FILE: join(dir, 'missing.json') }, [], /'CONFIG_FILE \(--config\)': ".*missing.json" \(a readable JSON file \(ENOENT/],
    [{ WORKERS: '2' }, [], /'workers \(WORKERS, --workers\)': 2 \(more than 1 needs redisUrl \(REDIS_URL, --redis\), redisSentinels \(REDIS_SENTINELS, --redis-sentinels\) or redisClusterNodes \(REDIS_CLUSTER_NODES, --redis-cluster-nodes\)/],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1' }, [], /^Invalid option 'REDIS_CLUSTER_NODES': \["127.0.0.1"\] \(a non-empty list of 'host:port'/],
    [{ REDIS_CLUSTER_NODES: 'h:7000,h:70000' }, [], /REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: 'h:0' }, [], /REDIS_CLUSTER_NODES/],
    [{}, ['--redis-cluster-nodes', ','], /--redis-cluster-nodes/],
    [{}, file({ redisClusterNodes: [7000] }), /redisClusterNodes in /],
    [{ REDIS_URL: 'redis://h', REDIS_CLUSTER_NODES: 'h:7000' }, [], /^Invalid option 'redisClusterNodes \(REDIS_CLUSTER_NODES, --redis-cluster-nodes\)': \["h:7000"\] \(one engine: redisUrl \(REDIS_URL, --redis\), redisSentinels \(REDIS_SENTINELS, --redis-sentinels\) or this, not two\)/],
    [{ REDIS_SENTINELS: 'h:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'h:7000' }, [], /'redisClusterNodes \(REDIS_CLUSTER_NODES, --redis-cluster-nodes\)': \["h:7000"\] \(one engine/],
    [{ JWT_SECRET: '' }, [], /^Invalid option 'JWT_SECRET': "\(hidden\)" \(a non-empty string\)/],
    [{ JWT_SECRET: 'abc' }, [], /^Invalid option 'jwtSecret \(JWT_SECRET, --jwt-secret\)': "\(hidden\)" \(an HS256 secret of at least 32 bytes/],
    [{ JWT_PUBLIC_KEY: '' }, [], /JWT_PUBLIC_KEY/],
    [{ PUBLISH_API_KEY: 'k' }, [], /publishApiKey \(PUBLISH_API_KEY, --publish-api-key\).*used with one of jwtSecret/],
    [{ JWT_PUBLIC_KEY: join(dir, 'missing.pem') }, [], /jwtPublicKey \(JWT_PUBLIC_KEY, --jwt-public-key\).*a readable file \(ENOENT/],
    [{ JWT_JWKS: configFile('not json') }, [], /jwtJwks \(JWT_JWKS, --jwt-jwks\).*a JSON file holding/],
    [{ JWT_JWKS: configFile({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }) }, [], /^Invalid option 'jwtJwks \(JWT_JWKS, --jwt-jwks\)': ".*config-\d+\.json" \(/],
    [{ JWT_PUBLIC_KEY: configFile('not a pem') }, [], /^Invalid option 'jwtPublicKey \(JWT_PUBLIC_KEY, --jwt-public-key\)': ".*" \(an RSA or EC P-256 public key/],
    [{ JWT_SECRET: 'a', JWT_PUBLIC_KEY: configFile('x') }, [], /^Invalid option 'jwtSecret \(JWT_SECRET, --jwt-secret\) and jwtPublicKey \(JWT_PUBLIC_KEY, --jwt-public-key\)': "\(hidden\)" \(one of them only/]
  ]
  for (const [env, argv, message] of rows) {
    t.throws(() => loadConfig(env, argv), { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify([env, argv]))
  }
  const secret = configFile({ jwt_secret: 's3cr3t-value' })
  t.throws(() => loadConfig({}, ['--config', secret]), { message: /^(?!.*s3cr3t-value)/ }, 'a misspelled secret is not printed')
  t.throws(() => loadConfig({}, ['--prot', '1']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION', message: /--prot/ }, 'an unknown flag')
  t.throws(() => loadConfig({}, ['--port']), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' }, 'a flag without its value')
})

t.test('JWT_JWKS and JWT_PUBLIC_KEY read their files', async (t) => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const keys = [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }]
  const config = loadConfig({ JWT_JWKS: configFile({ keys }) }, [])
  t.same(config.pubsub.auth, { jwks: { keys }, apiKey: undefined, clockTolerance: 0, maxGrants: 1000 })
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  t.same(loadConfig({ JWT_PUBLIC_KEY: configFile(pem), PUBLISH_API_KEY: 'k' }, []).pubsub.auth, { publicKey: pem, apiKey: 'k', clockTolerance: 0, maxGrants: 1000 }, 'JWT_PUBLIC_KEY reads a PEM')
})

t.test('TLS_CERT and TLS_KEY: read and tried together at startup', async (t) => {
  const [one, other] = await Promise.all([selfSignedCertificate(t), selfSignedCertificate(t)])
  const tls = loadConfig({ TLS_CERT: one.cert, TLS_KEY: one.key }, []).tls
  t.same(tls, { cert: readFileSync(one.cert, 'utf8'), key: readFileSync(one.key, 'utf8') }, 'the PEM texts, for Fastify\'s https')
  t.equal(loadConfig({}, []).tls, undefined, 'neither: plain HTTP')
  const rows: Array<[Record<string, string>, RegExp]> = [
    [{ TLS_CERT: one.cert }, /^Invalid option 'tlsCert \(TLS_CERT, --tls-cert\)': ".*cert\.pem" \(used with tlsKey \(TLS_KEY, --tls-key\): HTTPS needs both\)$/],
    [{ TLS_KEY: one.key }, /^Invalid option 'tlsKey \(TLS_KEY, --tls-key\)': ".*key\.pem" \(used with tlsCert/],
    [{ TLS_CERT: join(dir, 'missing.pem'), TLS_KEY: one.key }, /^Invalid option 'tlsCert \(TLS_CERT, --tls-cert\)': ".*missing\.pem" \(a readable file \(ENOENT/],
    [{ TLS_CERT: one.cert, TLS_KEY: other.key }, /^Invalid option 'tlsCert \(TLS_CERT, --tls-cert\) and tlsKey \(TLS_KEY, --tls-key\)': "\(hidden\)" \(a PEM certificate and its private key \(.*key values mismatch/],
    [{ TLS_CERT: configFile('not a pem'), TLS_KEY: one.key }, /\(a PEM certificate and its private key \(/]
  ]
  for (const [env, message] of rows) t.throws(() => loadConfig(env, []), { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(env))
  t.throws(() => loadConfig({ TLS_CERT: one.cert, TLS_KEY: other.key }, []), { message: /^(?!.*PRIVATE KEY)/ }, 'the key is never printed')
})

t.test('namespaces: from the JSON file only, checked naming the namespace, the field and the file', async (t) => {
  const config = loadConfig({}, ['--config', WORKED_CONFIG_FILE.pathname])
  t.same(config.pubsub.namespaces, WORKED, "the worked config of docs/namespaces.md, the file's map as it is")
  t.same(loadConfig({}, []).pubsub.namespaces, {}, 'none by default')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, config.pubsub)
  await app.ready()
  await t.rejects(app.pubsub.publish('chat.lobby', { text: 1 }), { code: 'PUBSUB_ERR_INVALID_MESSAGE' }, 'served')
  const bad = configFile({ namespaces: { 'chat.>': { historySize: -1 } } })
  t.throws(() => loadConfig({}, ['--config', bad]), { code: 'PUBSUB_ERR_OPTION', message: `Invalid option 'namespaces['chat.>'].historySize in ${bad}': -1 (an integer >= 0)` })
  const typo = configFile({ namespaces: { 'chat.>': { historysize: 5 } } })
  t.throws(() => loadConfig({}, ['--config', typo]), { message: /namespaces\['chat\.>'\]\.historysize in .*did you mean 'historySize'/ })
  t.throws(() => loadConfig({}, ['--config', configFile({ namespaces: [] })]), { message: /^Invalid option 'namespaces in .*': \[\] \(an object of patterns/ })
  t.throws(() => loadConfig({ NAMESPACES: '{}' }, []), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'NAMESPACES': "\(hidden\)" \(namespaces is read from the JSON config file only \(CONFIG_FILE \(--config\)\)/ })
  t.throws(() => loadConfig({}, ['--namespaces', '{}']), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option '--namespaces'.*from the JSON config file only/ })
  t.doesNotThrow(() => loadConfig({ NAMESPACES: '' }, []), 'an empty variable is unset, as for every setting')
})

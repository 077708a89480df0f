import t from 'tap'
import { loadConfig } from '../src/config.js'

t.test('defaults', async (t) => {
  t.same(loadConfig({}), {
    host: '127.0.0.1',
    port: 8080,
    logLevel: 'info',
    closeTimeout: 15000,
    workers: 1,
    pubsub: {
      maxSubscriptions: 1000,
      presenceLimit: 100,
      maxPayload: 65536,
      bodyLimit: 65536,
      maxBufferedBytes: 1048576,
      topicTtl: 300_000,
      maxTopics: 100_000,
      historySize: 100,
      historyTtl: 300_000,
      maxConnections: 10_000,
      pingInterval: 25_000,
      closeGrace: 5000,
      allowedOrigins: [],
      rateLimit: false,
      restRateLimit: false
    }
  })
  t.ok(Object.isFrozen(loadConfig({})))
})

t.test('from the environment', async (t) => {
  const config = loadConfig({ HOST: '0.0.0.0', PORT: '0', LOG_LEVEL: 'debug', MAX_SUBSCRIPTIONS: '5', MAX_PAYLOAD: '1024', BODY_LIMIT: '2048', MAX_BUFFERED_BYTES: '4096', CLOSE_TIMEOUT: '500', TOPIC_TTL: '60',
    HISTORY_SIZE: '0', HISTORY_TTL: '30', PRESENCE_LIMIT: '0', MAX_CONNECTIONS: '10', PING_INTERVAL: '1000', CLOSE_GRACE: '100', ALLOWED_ORIGINS: 'https://a.example, https://b.example', RATE_LIMIT: '50,100', REST_RATE_LIMIT: '600,60000' })
  t.same(config, { host: '0.0.0.0', port: 0, logLevel: 'debug', closeTimeout: 500, workers: 1, pubsub: {
      maxSubscriptions: 5,
      presenceLimit: 0,
      maxPayload: 1024,
      bodyLimit: 2048,
      maxBufferedBytes: 4096,
      topicTtl: 60_000,
      maxTopics: 100_000,
      historySize: 0,
      historyTtl: 30_000,
      maxConnections: 10,
      pingInterval: 1000,
      closeGrace: 100,
      allowedOrigins: ['https://a.example', 'https://b.example'],
      rateLimit: { rate: 50, burst: 100 },
      restRateLimit: { max: 600, timeWindow: 60_000 }
    } })
  t.equal(loadConfig({ RATE_LIMIT: 'off' }).pubsub.rateLimit, false)
})

t.test('invalid values name the variable', async (t) => {
  const rows: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'http' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ PORT: '-1' }, /PORT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ MAX_PAYLOAD: '0' }, /MAX_PAYLOAD/],
    [{ BODY_LIMIT: '1.5' }, /BODY_LIMIT/],
    [{ MAX_SUBSCRIPTIONS: 'many' }, /MAX_SUBSCRIPTIONS/],
    [{ MAX_BUFFERED_BYTES: '1e400' }, /MAX_BUFFERED_BYTES/],
    [{ CLOSE_TIMEOUT: '0' }, /CLOSE_TIMEOUT/],
    [{ TOPIC_TTL: '-5' }, /TOPIC_TTL/],
    [{ HISTORY_SIZE: '-1' }, /HISTORY_SIZE/],
    [{ HISTORY_TTL: '0' }, /HISTORY_TTL/],
    [{ PRESENCE_LIMIT: 'all' }, /PRESENCE_LIMIT/],
    [{ MAX_CONNECTIONS: '0' }, /MAX_CONNECTIONS/],
    [{ RATE_LIMIT: '50' }, /RATE_LIMIT/],
    [{ RATE_LIMIT: '50,0' }, /RATE_LIMIT/],
    [{ RATE_LIMIT: '1,2,3' }, /RATE_LIMIT/],
    [{ RATE_LIMIT: 'fast' }, /RATE_LIMIT/],
    [{ REST_RATE_LIMIT: '10' }, /REST_RATE_LIMIT/],
    [{ CLOSE_TIMEOUT: String(2 ** 31) }, /CLOSE_TIMEOUT/]
  ]
  for (const [env, message] of rows) t.throws(() => loadConfig(env), { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(env))
})

t.test('auth from the environment: a secret, a PEM file or a JWK set file, plus an API key', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-auth-'))
  const pem = join(dir, 'key.pem')
  writeFileSync(pem, '-----BEGIN PUBLIC KEY-----\n...')
  const jwks = join(dir, 'jwks.json')
  writeFileSync(jwks, '{"keys":[]}')
  const notJson = join(dir, 'bad.json')
  writeFileSync(notJson, 'nope')
  t.same(loadConfig({ JWT_SECRET: 's', PUBLISH_API_KEY: 'k' }, []).pubsub.auth, { secret: 's', publicKey: undefined, jwks: undefined, apiKey: 'k' })
  t.match(loadConfig({ JWT_PUBLIC_KEY: pem }, []).pubsub.auth, { publicKey: /BEGIN PUBLIC KEY/ })
  t.match(loadConfig({ JWT_JWKS: jwks }, []).pubsub.auth, { jwks: { keys: [] } })
  t.equal(loadConfig({ JWT_SECRET: '' }, []).pubsub.auth, undefined, 'empty means unset')
  t.throws(() => loadConfig({ JWT_PUBLIC_KEY: join(dir, 'missing.pem') }, []), { message: /JWT_PUBLIC_KEY.*readable file/ })
  t.throws(() => loadConfig({ JWT_JWKS: notJson }, []), { message: /JWT_JWKS/ })
  t.throws(() => loadConfig({ PUBLISH_API_KEY: 'k' }, []), { message: /PUBLISH_API_KEY/ })
})

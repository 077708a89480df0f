import t from 'tap'
import { loadConfig } from '../src/config.js'

t.test('defaults', async (t) => {
  t.same(loadConfig({}), {
    host: '127.0.0.1',
    port: 8080,
    logLevel: 'info',
    closeTimeout: 10000,
    pubsub: { maxSubscriptions: 1000, maxPayload: 65536, bodyLimit: 65536, maxBufferedBytes: 1048576, topicTtl: 300_000 }
  })
  t.ok(Object.isFrozen(loadConfig({})))
})

t.test('from the environment', async (t) => {
  const config = loadConfig({ HOST: '0.0.0.0', PORT: '0', LOG_LEVEL: 'debug', MAX_SUBSCRIPTIONS: '5', MAX_PAYLOAD: '1024', BODY_LIMIT: '2048', MAX_BUFFERED_BYTES: '4096', CLOSE_TIMEOUT: '500', TOPIC_TTL: '60' })
  t.same(config, { host: '0.0.0.0', port: 0, logLevel: 'debug', closeTimeout: 500, pubsub: { maxSubscriptions: 5, maxPayload: 1024, bodyLimit: 2048, maxBufferedBytes: 4096, topicTtl: 60_000 } })
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
    [{ TOPIC_TTL: '-5' }, /TOPIC_TTL/]
  ]
  for (const [env, message] of rows) t.throws(() => loadConfig(env), { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(env))
})

import t from 'tap'
import { RedisEngine } from '../../../src/pubsub/redis/engine.js'
import { isRedisUrl } from '../../../src/pubsub/redis/url.js'

t.test('isRedisUrl: what ioredis can connect with, and nothing else', async (t) => {
  for (const url of ['redis://127.0.0.1:6379', 'redis://h', 'rediss://user:pw@h:6380/2', 'redis://:pw@h:6379/', 'redis://[::1]:6379']) t.ok(isRedisUrl(url), url)
  for (const url of ['localhost:6379', 'http://h:6379', 'redis://', 'redis://:s3cret@127.0.0.1:99999', 'redis://h:6379/abc', 'redis://h/1/2', 42, undefined]) t.notOk(isRedisUrl(url), String(url))
})

t.test('the Redis engine refuses a bad URL without printing it (a password may be in it)', async (t) => {
  t.throws(() => new RedisEngine({ url: 'redis://:s3cret@127.0.0.1:99999' }), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'url': "\(hidden\)" \(a redis:\/\/ or rediss:\/\/ URL/ })
  t.throws(() => new RedisEngine({ url: 'redis://:s3cret@h:6379/abc' }), { message: /^(?!.*s3cret)/ })
})

import Fastify from 'fastify'
import t from 'tap'
import fastifyPubsub from '../../../src/index.js'
import { Broker } from '../../../src/pubsub/broker.js'
import { RedisEngine, type RedisEngineOptions } from '../../../src/pubsub/redis/engine.js'
import { isAddressList, parseAddresses } from '../../../src/pubsub/redis/addresses.js'
import { freePort } from '../../redis/redis-server.js'

t.test('sentinel addresses: host:port, IPv6 in brackets; anything else is refused', async (t) => {
  t.same(parseAddresses(['127.0.0.1:26379', '[::1]:26380', 'sentinel-0.sentinel.svc:1']), [
    { host: '127.0.0.1', port: 26379 }, { host: '::1', port: 26380 }, { host: 'sentinel-0.sentinel.svc', port: 1 }
  ])
  for (const list of [[], ['h'], ['h:0'], ['h:65536'], ['h:123456'], [':26379'], ['::1:26379'], ['h:26379', 42], 'h:26379', undefined]) {
    t.notOk(isAddressList(list), JSON.stringify(list))
  }
})

t.test('the Redis engine takes a url or sentinels with their name, and says which is wrong', async (t) => {
  const rows: Array<[Partial<RedisEngineOptions>, RegExp]> = [
    [{}, /^Invalid option 'url': "\(hidden\)" \(a redis:\/\/ .*; or sentinels and name instead\)$/],
    [{ url: 'redis://h', sentinels: ['h:26379'], name: 'm' }, /'url': "\(hidden\)" \(either url or sentinels, not both\)/],
    [{ sentinels: ['h'], name: 'm' }, /^Invalid option 'sentinels': \["h"\] \(a non-empty list of 'host:port'/],
    [{ sentinels: [], name: 'm' }, /'sentinels'/],
    [{ sentinels: ['h:26379'] }, /^Invalid option 'name': undefined \(the name Sentinel monitors the primary under/],
    [{ sentinels: ['h:26379'], name: '' }, /'name': ""/],
    [{ url: 'redis://h', name: 'm' }, /'name': "\(hidden\)" \(used with sentinels only/],
    [{ url: 'redis://h', password: 's3cret' }, /^(?!.*s3cret).*'password': "\(hidden\)" \(used with sentinels only \(with url, a password goes in the URL\)\)$/],
    [{ url: 'redis://h', sentinelPassword: 's3cret' }, /'sentinelPassword'/],
    [{ url: 'redis://h', primaryChange: 'sometimes' as 'continue' }, /^Invalid option 'primaryChange': "sometimes" \('new-epoch' or 'continue'\)$/]
  ]
  for (const [options, message] of rows) {
    t.throws(() => new RedisEngine(options as RedisEngineOptions), { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(options))
  }
})

t.test('sentinels that never answer: not connected, and a publish fails fast with UNAVAILABLE', async (t) => {
  const engine = new RedisEngine({ sentinels: [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`], name: 'mymaster', timeout: 200 })
  const broker = new Broker({}, { engine })
  t.teardown(() => broker.close())
  await t.rejects(engine.whenConnected(300), { code: 'PUBSUB_ERR_UNAVAILABLE' })
  t.equal(engine.healthy(), false)
  // The primary's identity is read first, and that read fails: no script was sent.
  await t.rejects(engine.publish('t', '1'), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' })
  await t.rejects(broker.connect({ deliver () {} }).subscribe('t'), { code: 'PUBSUB_ERR_UNAVAILABLE' })
})

t.test('the plugin takes { type: \'redis\', sentinels, name } and checks it at registration', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(fastifyPubsub, { engine: { type: 'redis', sentinels: ['sentinel-0:26379', 'h'], name: 'mymaster' } }) }, { code: 'PUBSUB_ERR_OPTION', message: /'sentinels': \["sentinel-0:26379","h"\]/ })
})

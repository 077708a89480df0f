import t from 'tap'
import { RedisClusterEngine } from '../../../src/pubsub/redis/cluster-engine.js'
import { parseAddress } from '../../../src/pubsub/redis/addresses.js'
import { crc16, GROUP_TAGS, GROUPS, SLOTS, slotOf } from '../../../src/pubsub/redis/slots.js'

t.test('parseAddress: host:port with a port from 1 to 65535, and nothing else', async (t) => {
  t.same(parseAddress('10.0.0.1:7000'), { host: '10.0.0.1', port: 7000 })
  t.same(parseAddress('redis-1.internal:65535'), { host: 'redis-1.internal', port: 65535 })
  t.same(parseAddress('[::1]:7000'), { host: '::1', port: 7000 }, 'an IPv6 address in brackets')
  for (const text of ['h', 'h:', ':7000', 'h:0', 'h:65536', 'h:7000:1', 'redis://h:7000', 'h 1:7000', '', 42, undefined]) t.equal(parseAddress(text), undefined, String(text))
})

t.test('the Redis Cluster engine refuses bad nodes and key prefixes before connecting', async (t) => {
  for (const nodes of [[], ['h'], ['h:7000', 'h:0'], 'h:7000', undefined]) {
    t.throws(() => new RedisClusterEngine({ nodes: nodes as string[] }), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'nodes': .* \(a non-empty list of 'host:port'/ }, JSON.stringify(nodes))
  }
  t.throws(() => new RedisClusterEngine({ nodes: ['h:7000'], keyPrefix: 'a*' }), { code: 'PUBSUB_ERR_OPTION', message: /keyPrefix/ })
  t.throws(() => new RedisClusterEngine({ nodes: ['h:7000'], timeout: 0 }), { code: 'PUBSUB_ERR_OPTION', message: /timeout/ })
})

t.test('slot groups: CRC16 as Redis computes it, one tag in each 1/64 of the slots', async (t) => {
  // The cluster spec's own check value: CRC16('123456789') = 0x31C3.
  t.equal(crc16('123456789'), 0x31c3)
  t.equal(slotOf('foo'), 12182, 'CLUSTER KEYSLOT foo')
  t.equal(GROUP_TAGS.length, GROUPS)
  t.same(GROUP_TAGS.map((tag) => Math.floor(slotOf(tag) * GROUPS / SLOTS)), [...Array(GROUPS).keys()])
})

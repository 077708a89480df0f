// GET /topics on the Redis engines reads its names from two indexes in byte
// order (retained topics, names in some node's presence) a page at a time,
// and prunes the names that left both: on one Redis and on a cluster.
import t, { type Test } from 'tap'
import { nanoid } from 'nanoid'
import { Broker } from '../../../src/pubsub/broker.js'
import type { Engine } from '../../../src/pubsub/engine.js'
import { RedisEngine } from '../../../src/pubsub/redis/engine.js'
import { RedisClusterEngine } from '../../../src/pubsub/redis/cluster-engine.js'
import { GROUP_TAGS, groupOf } from '../../../src/pubsub/redis/slots.js'
import { lexRange, mergeNames } from '../../../src/pubsub/redis/listing.js'
import { eventually } from '../../helper.js'
import { redisMissing, RedisServer } from '../../redis/redis-server.js'
import { cli, RedisCluster } from '../../redis/redis-cluster.js'

/** How a case reaches one deployment: its engines, and a Redis command on the key a name lives under. */
interface Deployment {
  engine: (prefix: string) => Engine & { whenConnected: () => Promise<void> }
  /** Members of an index: `names` (retained, of `topic`'s group) or `present`. */
  members: (prefix: string, index: 'names' | 'present', topic?: string) => Promise<string[]>
  zrem: (prefix: string, index: 'present', name: string) => Promise<void>
}

t.test('names in order, as ZRANGEBYLEX pages them', async (t) => {
  t.same(mergeNames([['b', 'x'], ['a', 'b', 'z']], 3), ['a', 'b', 'x'], 'merged once each, cut to the count')
  t.same(lexRange('', undefined), { min: '-', max: '+' })
  t.same(lexRange('a.', 'a.b'), { min: '(a.b', max: '[a.\u00ff' })
  t.equal(lexRange('b.', 'a.z').min, '[b.', 'a cursor before the prefix starts at the prefix')
})

async function listingCases (t: Test, deployment: Deployment): Promise<void> {
  const node = async (t: Test, prefix: string): Promise<Broker> => {
    const engine = deployment.engine(prefix)
    // gone.*: topics whose history expires soon.
    const broker = new Broker({ namespaces: { 'gone.>': { historyTtl: 300 } } }, { engine })
    t.teardown(() => broker.close())
    await engine.whenConnected()
    return broker
  }

  t.test('a page walks past names that left both indexes, and prunes them', async (t) => {
    const prefix = `${nanoid(6)}:`
    const [a, b] = [await node(t, prefix), await node(t, prefix)]
    // Five topics whose history expires, before every live name in byte order.
    for (let i = 1; i <= 5; i++) await a.publish(`gone.${i}`, i)
    const sessions = [a.connect({ deliver () {} }), b.connect({ deliver () {} })]
    for (const key of ['live.a', 'live.b', 'p.*', 'left.1']) await sessions[0]?.subscribe(key)
    await sessions[1]?.subscribe('live.a')
    await sessions[0]?.unsubscribe('left.1')
    await eventually(async () => (await a.topics()).topics.every((info) => !info.topic.startsWith('gone.')), 5000)

    const pages: string[][] = []
    let after: string | undefined
    do {
      const page = await a.topics({ limit: 2, after })
      pages.push([...page.topics.map((info) => `${info.topic}:${info.subscribers}`), ...page.patterns.map((info) => `${info.pattern}:${info.subscribers}`)])
      after = page.next
    } while (after !== undefined)
    t.same(pages, [['live.a:2', 'live.b:1'], ['p.*:1']], 'two nodes summed; nothing gone, nothing twice')
    t.same((await deployment.members(prefix, 'present')).sort(), ['live.a', 'live.b', 'p.*'], 'the unsubscribed name is pruned')
    for (let i = 1; i <= 5; i++) t.notOk((await deployment.members(prefix, 'names', `gone.${i}`)).includes(`gone.${i}`), `gone.${i} pruned`)

    // Published again: back in the index, and listed.
    await a.publish('gone.3', 'again')
    t.same((await a.topics({ prefix: 'gone.' })).topics.map((info) => info.topic), ['gone.3'])
  })

  t.test("a name pruned under a live subscriber comes back with its node's next heartbeat", async (t) => {
    const prefix = `${nanoid(6)}:`
    const a = await node(t, prefix)
    await a.connect({ deliver () {} }).subscribe('here')
    await deployment.zrem(prefix, 'present', 'here')
    await eventually(async () => (await a.topics()).topics.some((info) => info.topic === 'here'), 5000)
    t.pass('listed again')
  })

  t.test('a prefix bounds the page at both ends', async (t) => {
    const prefix = `${nanoid(6)}:`
    const a = await node(t, prefix)
    for (const topic of ['a', 'a.1', 'a.2', 'a~', 'b', '~']) await a.publish(topic, 1)
    t.same((await a.topics({ prefix: 'a.' })).topics.map((info) => info.topic), ['a.1', 'a.2'])
    t.same((await a.topics({ prefix: 'a.', limit: 1 })).next, 'a.1')
    t.same((await a.topics({ prefix: '~' })).topics.map((info) => info.topic), ['~'], 'the last character topics may hold')
  })
}

const missing = redisMissing()
if (missing !== false) {
  t.comment(`skipped: ${missing}`)
} else {
  // Both up before any case runs: a case's connections could take the free ports picked for the cluster.
  const redis = await RedisServer.start(t)
  const cluster = await RedisCluster.start(t)
  t.test('one Redis', async (t) => {
    await listingCases(t, {
      engine: (prefix) => new RedisEngine({ url: redis.url, keyPrefix: prefix, heartbeat: 100 }),
      members: async (prefix, index) => (await cli(redis.port, 'ZRANGE', `${prefix}${index}`, '0', '-1')).split('\n').filter((name) => name !== ''),
      zrem: async (prefix, index, name) => { await cli(redis.port, 'ZREM', `${prefix}${index}`, name) }
    })
  })

  const onKey = async (...args: string[]): Promise<string> => await cli(cluster.ports[0] as number, '-c', ...args)
  t.test('a Redis Cluster', async (t) => {
    await listingCases(t, {
      engine: (prefix) => new RedisClusterEngine({ nodes: cluster.nodes, keyPrefix: prefix, heartbeat: 100 }),
      members: async (prefix, index, topic) => {
        const key = index === 'present' ? `${prefix}{presence}:present` : `${prefix}{${GROUP_TAGS[groupOf(topic as string)] as string}}:names`
        return (await onKey('ZRANGE', key, '0', '-1')).split('\n').filter((name) => name !== '')
      },
      zrem: async (prefix, index, name) => { await onKey('ZREM', `${prefix}{presence}:${index}`, name) }
    })
  })
}

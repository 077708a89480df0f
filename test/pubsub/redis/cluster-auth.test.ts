// A Redis Cluster whose nodes require a password (requirepass), as managed
// cluster-mode services do: the engine authenticates every connection,
// the sharded subscribers' included, and without it never gets ready.
import t from 'tap'
import { nanoid } from 'nanoid'
import { Broker } from '../../../src/pubsub/broker.js'
import type { Message } from '../../../src/pubsub/message.js'
import { RedisClusterEngine } from '../../../src/pubsub/redis/cluster-engine.js'
import { eventually } from '../../helper.js'
import { redisMissing } from '../../redis/redis-server.js'
import { cli, RedisCluster } from '../../redis/redis-cluster.js'

const missing = redisMissing()
t.test('a cluster with a password: delivery with it, never ready without it', { skip: missing }, async (t) => {
  const password = `pw-${nanoid(8)}`
  const cluster = await RedisCluster.start(t, { password })
  t.match(await cli(cluster.ports[0] as number, 'CLUSTER', 'INFO'), /cluster_state:ok/, 'the cluster is up')
  const prefix = `${nanoid(6)}:`
  const brokers = [0, 1].map(() => {
    const engine = new RedisClusterEngine({ nodes: cluster.nodes.slice(0, 1), keyPrefix: prefix, password, heartbeat: 100 })
    const broker = new Broker({}, { engine })
    t.teardown(() => broker.close())
    return { engine, broker }
  })
  for (const { engine } of brokers) await engine.whenConnected()
  const got: Array<[string, number]> = []
  const session = (brokers[1] as { broker: Broker }).broker.connect({ deliver (message: Message) { got.push([message.topic, message.seq]) } })
  await session.subscribe('auth.exact')
  await session.subscribe('auth.*')
  await (brokers[0] as { broker: Broker }).broker.publish('auth.exact', 1)
  await (brokers[0] as { broker: Broker }).broker.publish('auth.other', 2)
  await eventually(() => got.length === 2)
  t.same(got.sort(), [['auth.exact', 1], ['auth.other', 1]], 'the topic and the pattern, through authenticated sharded subscribers (once per session)')

  const refused = new RedisClusterEngine({ nodes: cluster.nodes.slice(0, 1), keyPrefix: prefix, timeout: 200 })
  t.teardown(() => refused.close())
  await t.rejects(refused.whenConnected(1000), { code: 'PUBSUB_ERR_UNAVAILABLE' }, 'without the password the engine never gets ready')
})

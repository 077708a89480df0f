// A Redis Cluster whose nodes require a password (requirepass), or speak
// only TLS, as managed cluster-mode services do: the engine authenticates
// and encrypts every connection, the sharded subscribers' included, and
// without the password, or without TLS, never gets ready.
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nanoid } from 'nanoid'
import { Broker } from '../../../src/pubsub/broker.js'
import type { Message } from '../../../src/pubsub/message.js'
import { RedisClusterEngine, type RedisClusterEngineOptions } from '../../../src/pubsub/redis/cluster-engine.js'
import { eventually } from '../../helper.js'
import { redisMissing } from '../../redis/redis-server.js'
import { cli, RedisCluster, testCertificates } from '../../redis/redis-cluster.js'

/**
 * Two nodes of `options` (the cluster's address and credentials): a
 * session on the second subscribes to `<name>.exact` and `<name>.*`, the
 * first publishes to `<name>.exact` and `<name>.other`; resolves with what
 * the session was given, both messages once.
 */
async function deliveries (t: Test, options: RedisClusterEngineOptions, name: string): Promise<Array<[string, number]>> {
  const [publishing, subscribing] = [0, 1].map(() => {
    const engine = new RedisClusterEngine({ heartbeat: 100, ...options })
    const broker = new Broker({}, { engine })
    t.teardown(() => broker.close())
    return { engine, broker }
  }) as [{ engine: RedisClusterEngine, broker: Broker }, { engine: RedisClusterEngine, broker: Broker }]
  for (const { engine } of [publishing, subscribing]) await engine.whenConnected()
  const got: Array<[string, number]> = []
  const session = subscribing.broker.connect({ deliver (message: Message) { got.push([message.topic, message.seq]) } })
  await session.subscribe(`${name}.exact`)
  await session.subscribe(`${name}.*`)
  await publishing.broker.publish(`${name}.exact`, 1)
  await publishing.broker.publish(`${name}.other`, 2)
  await eventually(() => got.length === 2)
  return got.sort()
}

const missing = redisMissing()
t.test('a cluster with a password: delivery with it, never ready without it', { skip: missing }, async (t) => {
  const password = `pw-${nanoid(8)}`
  const cluster = await RedisCluster.start(t, { password })
  t.match(await cli(cluster.ports[0] as number, 'CLUSTER', 'INFO'), /cluster_state:ok/, 'the cluster is up')
  const prefix = `${nanoid(6)}:`
  t.same(await deliveries(t, { nodes: cluster.nodes.slice(0, 1), keyPrefix: prefix, password }, 'auth'), [['auth.exact', 1], ['auth.other', 1]],
    'the topic and the pattern, through authenticated sharded subscribers (once per session)')

  const refused = new RedisClusterEngine({ nodes: cluster.nodes.slice(0, 1), keyPrefix: prefix, timeout: 200 })
  t.teardown(() => refused.close())
  await t.rejects(refused.whenConnected(1000), { code: 'PUBSUB_ERR_UNAVAILABLE' }, 'without the password the engine never gets ready')
})

t.test('a cluster that speaks only TLS: delivery over it with the CA, never ready without TLS', { skip: missing }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-tls-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const files = await testCertificates(dir)
  const cluster = await RedisCluster.start(t, { tls: files })
  const prefix = `${nanoid(6)}:`
  const tls = { ca: readFileSync(files.ca, 'utf8') }
  // By name: the certificate is checked against the name given (the engine connects by it, not by its address).
  const seed = [`localhost:${cluster.ports[0] as number}`]
  t.same(await deliveries(t, { nodes: seed, keyPrefix: prefix, tls }, 'tls'), [['tls.exact', 1], ['tls.other', 1]], 'the topic and the pattern, over TLS')

  for (const [setting, why] of [[false, 'without TLS'], [true, "with the system's CAs, which did not sign it"]] as const) {
    const refused = new RedisClusterEngine({ nodes: seed, keyPrefix: prefix, tls: setting, timeout: 200 })
    t.teardown(() => refused.close())
    await t.rejects(refused.whenConnected(1000), { code: 'PUBSUB_ERR_UNAVAILABLE' }, `${why}, the engine never gets ready`)
  }
})

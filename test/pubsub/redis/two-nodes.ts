// A publishing and a subscribing fastify-pubsub node on one Redis Cluster,
// connected, closed when the test ends: what the failover tests run on.
import type { Test } from 'tap'
import { Broker } from '../../../src/pubsub/broker.js'
import { RedisClusterEngine, type RedisClusterEngineOptions } from '../../../src/pubsub/redis/cluster-engine.js'

export async function twoNodes (t: Test, nodes: string[], keyPrefix: string, options: Partial<RedisClusterEngineOptions> = {}): Promise<{ publishing: Broker, subscribing: Broker }> {
  const engines = [0, 1].map(() => new RedisClusterEngine({ nodes, keyPrefix, heartbeat: 100, timeout: 300, ...options }))
  const [publishing, subscribing] = engines.map((engine) => {
    const broker = new Broker({}, { engine })
    t.teardown(() => broker.close())
    return broker
  }) as [Broker, Broker]
  for (const engine of engines) await engine.whenConnected()
  return { publishing, subscribing }
}

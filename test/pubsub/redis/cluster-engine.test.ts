// The Redis Cluster engine passes the same conformance suite as the other
// engines, against a six-node cluster of its own.
import t from 'tap'
import { nanoid } from 'nanoid'
import { RedisClusterEngine } from '../../../src/pubsub/redis/cluster-engine.js'
import { engineConformance } from '../../../src/pubsub/conformance.js'
import { WAIT_MS } from '../../helper.js'
import { redisMissing } from '../../redis/redis-server.js'
import { RedisCluster } from '../../redis/redis-cluster.js'

const missing = redisMissing()
if (missing !== false) {
  t.comment(`skipped: ${missing}`)
} else {
  const cluster = await RedisCluster.start(t)
  engineConformance({
    builder: async (settings) => {
      // A prefix of its own: tests share the cluster, not their topics.
      const engine = new RedisClusterEngine({ nodes: cluster.nodes.slice(0, 2), keyPrefix: `${nanoid(6)}:`, heartbeat: 100, ...settings })
      await engine.whenConnected()
      return engine
    },
    test: t,
    wait: WAIT_MS
  })
}

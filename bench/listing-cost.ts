// What `GET /topics` costs on the Redis engines with many topics (issue 16),
// measured on a Redis of your own:
//
//   npm run build && npx tsc -p tsconfig.bench.json
//   node dist-bench/bench/listing-cost.js redis://127.0.0.1:6379 [topics] [nodes] [subscribed]
//   node dist-bench/bench/listing-cost.js cluster:127.0.0.1:7000 [topics] [nodes] [subscribed]
//
// Publishes to `topics` topics (default 100,000: each retains its message),
// starts `nodes` engines (default 3) that each subscribe to `subscribed`
// topics of their own (default 10,000), then times pages of the listing:
// the first page, one from the middle, one under a prefix, and one topic,
// each the median of 21 reads, with the Redis CPU each read took (INFO's
// used_cpu_user + used_cpu_sys, summed over the cluster's primaries).
import { Redis, Cluster } from 'ioredis'
import { nanoid } from 'nanoid'
import { performance } from 'node:perf_hooks'
import { Broker } from '../src/pubsub/broker.js'
import type { Engine } from '../src/pubsub/engine.js'
import { RedisEngine } from '../src/pubsub/redis/engine.js'
import { RedisClusterEngine } from '../src/pubsub/redis/cluster-engine.js'

const [target = 'redis://127.0.0.1:6379', topicsArg = '100000', nodesArg = '3', subscribedArg = '10000'] = process.argv.slice(2)
const [topicCount, nodeCount, subscribed] = [Number(topicsArg), Number(nodesArg), Number(subscribedArg)]
const clusterNodes = target.startsWith('cluster:') ? target.slice('cluster:'.length).split(',') : undefined
const prefix = `bench-${nanoid(6)}:`

function engine (): Engine & { whenConnected: () => Promise<void> } {
  return clusterNodes === undefined
    ? new RedisEngine({ url: target, keyPrefix: prefix, historyTtl: 3_600_000 })
    : new RedisClusterEngine({ nodes: clusterNodes, keyPrefix: prefix, historyTtl: 3_600_000 })
}

/** Redis's own CPU seconds so far, over every primary. */
async function redisCpu (): Promise<number> {
  const primaries = clusterNodes === undefined ? [admin as Redis] : (admin as Cluster).nodes('master')
  let total = 0
  for (const node of primaries) {
    const info = await node.info('cpu')
    total += Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1])
  }
  return total
}

const admin = clusterNodes === undefined ? new Redis(target) : new Cluster(clusterNodes.map((node) => ({ host: node.split(':')[0] as string, port: Number(node.split(':')[1]) })))
const brokers: Broker[] = []
for (let i = 0; i < nodeCount; i++) {
  const built = engine()
  const broker = new Broker({ maxSubscriptions: subscribed + 1, maxSubscriptionBytes: 2 ** 30 }, { engine: built })
  await built.whenConnected()
  brokers.push(broker)
}
const names = Array.from({ length: topicCount }, (_, i) => `t.${String(i).padStart(6, '0')}`)
const started = performance.now()
for (let i = 0; i < names.length; i += 500) await Promise.all(names.slice(i, i + 500).map(async (name) => await (brokers[0] as Broker).publish(name, 1)))
console.log(`published ${topicCount} topics in ${((performance.now() - started) / 1000).toFixed(1)} s`)
for (const [n, broker] of brokers.entries()) {
  const session = broker.connect({ deliver () {} })
  const own = names.filter((_, i) => i % nodeCount === n).slice(0, subscribed)
  for (let i = 0; i < own.length; i += 500) await Promise.all(own.slice(i, i + 500).map(async (name) => await session.subscribe(name)))
}
console.log(`${nodeCount} nodes subscribed to ${subscribed} topics each`)

async function time (label: string, read: () => Promise<unknown>): Promise<void> {
  const walls: number[] = []
  const cpus: number[] = []
  for (let i = 0; i < 21; i++) {
    const cpu = await redisCpu()
    const at = performance.now()
    await read()
    walls.push(performance.now() - at)
    cpus.push((await redisCpu()) - cpu)
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[10] as number
  console.log(`| ${label} | ${median(walls).toFixed(1)} ms | ${(median(cpus) * 1000).toFixed(1)} ms |`)
}

const reader = brokers[nodeCount - 1] as Broker
console.log('| read | wall (median of 21) | Redis CPU (median) |\n|---|---|---|')
await time('GET /topics (first page of 100)', async () => await reader.topics({ limit: 100 }))
await time('GET /topics?after=<middle>', async () => await reader.topics({ limit: 100, after: names[Math.floor(topicCount / 2)] }))
await time('GET /topics?prefix=t.0999', async () => await reader.topics({ limit: 100, prefix: 't.0999' }))
await time('GET /topics/:topic', async () => await reader.topic(names[7] as string))
for (const broker of brokers) await broker.close()
// Leaves nothing behind: every key of this run has the prefix.
const keys = clusterNodes === undefined ? await (admin as Redis).keys(`${prefix}*`) : []
for (let i = 0; i < keys.length; i += 1000) await (admin as Redis).del(...keys.slice(i, i + 1000))
admin.disconnect()

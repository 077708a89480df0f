// In-process microbenchmark of the broker's publish path (no sockets): the
// cost of a publish to 100 pattern subscribers, with and without 10,000
// unrelated patterns in the index; and what metrics add to a publish (the
// plugin registered with metrics on and off). Runs alternate, and the median
// is kept, because the machine is noisy.
import Fastify from 'fastify'
import { performance } from 'node:perf_hooks'
import fastifyPubsub from '../src/app.js'
import { Broker } from '../src/pubsub/broker.js'

export interface BrokerBenchResult {
  name: string
  nsPerPublish: number
}

async function publishCost (unrelatedPatterns: number, publishes: number): Promise<number> {
  const broker = new Broker({ maxSubscriptions: unrelatedPatterns + 10, maxSubscriptionBytes: 1 << 20 })
  const sink = { deliver () {} }
  for (let i = 0; i < 100; i++) await broker.connect(sink).subscribe('bench.*')
  const holder = broker.connect(sink)
  for (let k = 0; k < unrelatedPatterns; k++) await holder.subscribe(`other${k % 100}.t${k}.*`)
  const data = { p: 'x'.repeat(40) }
  for (let i = 0; i < 20_000; i++) await broker.publish('bench.0', data) // warm-up
  const started = performance.now()
  for (let i = 0; i < publishes; i++) await broker.publish('bench.0', data)
  const ns = (performance.now() - started) * 1e6 / publishes
  await broker.close()
  return ns
}

/** A publish through the plugin's broker to `subscribers` exact subscribers, with the metrics route registered or not. */
async function metricsCost (metrics: boolean, subscribers: number, publishes: number): Promise<number> {
  const app = Fastify()
  await app.register(fastifyPubsub, { metrics, docs: false, console: false, underPressure: false })
  await app.ready()
  const sink = { deliver () {} }
  for (let i = 0; i < subscribers; i++) await app.pubsub.connect(sink).subscribe('bench.0')
  const data = { p: 'x'.repeat(40) }
  for (let i = 0; i < 20_000; i++) await app.pubsub.publish('bench.0', data)
  const started = performance.now()
  for (let i = 0; i < publishes; i++) await app.pubsub.publish('bench.0', data)
  const ns = (performance.now() - started) * 1e6 / publishes
  await app.close()
  return ns
}

export async function brokerBench (publishes = 200_000, rounds = 5): Promise<BrokerBenchResult[]> {
  const runs: Record<string, number[]> = {}
  const run = async (name: string, measure: () => Promise<number>): Promise<void> => { (runs[name] ??= []).push(await measure()) }
  for (let round = 0; round < rounds; round++) {
    await run('publish to 100 pattern subscribers', async () => await publishCost(0, publishes))
    await run('the same, with 10,000 unrelated patterns', async () => await publishCost(10_000, publishes))
    for (const subscribers of [1, 100]) {
      await run(`publish to ${subscribers} subscriber${subscribers === 1 ? '' : 's'}, metrics on`, async () => await metricsCost(true, subscribers, publishes))
      await run(`publish to ${subscribers} subscriber${subscribers === 1 ? '' : 's'}, metrics off`, async () => await metricsCost(false, subscribers, publishes))
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  return Object.entries(runs).map(([name, ns]) => ({ name, nsPerPublish: median(ns) }))
}

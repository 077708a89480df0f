// In-process microbenchmark of the broker's publish path (no sockets): the
// cost of a publish to 100 pattern subscribers, with and without 10,000
// unrelated patterns in the index. Runs alternate, and the median is kept,
// because the machine is noisy.
import { performance } from 'node:perf_hooks'
import { Broker } from '../src/pubsub/broker.js'

export interface BrokerBenchResult {
  name: string
  nsPerPublish: number
}

async function publishCost (unrelatedPatterns: number, publishes: number): Promise<number> {
  const broker = new Broker({ maxSubscriptions: unrelatedPatterns + 10 })
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

export async function brokerBench (publishes = 200_000, rounds = 5): Promise<BrokerBenchResult[]> {
  const none: number[] = []
  const many: number[] = []
  for (let round = 0; round < rounds; round++) {
    none.push(await publishCost(0, publishes))
    many.push(await publishCost(10_000, publishes))
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  return [
    { name: 'publish to 100 pattern subscribers', nsPerPublish: median(none) },
    { name: 'the same, with 10,000 unrelated patterns', nsPerPublish: median(many) }
  ]
}

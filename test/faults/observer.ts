// What the fault suite checks, whatever it breaks: every acknowledged message
// reaches every subscriber exactly once and in order, or the subscriber is
// told (a `recovery` event with recovered: false).
import type { Test } from 'tap'
import type { PubsubClient, PubsubMessage } from '../../src/client/index.js'
import { eventually } from '../helper.js'

/** Heavier runs on demand: FAULTS=heavy npm test (or npx tap test/faults). */
export const HEAVY = process.env.FAULTS === 'heavy'

/** One subscriber's view of a topic: the data of each message (the publisher's counter) and each time it was told of a loss. */
export class Observer {
  readonly received: number[] = []
  told = 0

  constructor (client: PubsubClient, topic: string) {
    client.subscribe(topic, (message: PubsubMessage<number>) => { this.received.push(message.data) })
    client.on('recovery', (event) => { if (event.topic === topic && !event.recovered) this.told++ })
  }

  /** Waits until every acknowledged counter has arrived, or a loss was told and traffic has settled. */
  async settle (acknowledged: readonly number[], ms = 15_000): Promise<void> {
    const last = acknowledged.at(-1)
    await eventually(() => this.received.includes(last as number) || (this.told > 0 && this.received.length > 0 && this.received.at(-1) === last), ms)
  }

  /** The invariant: in order, no duplicate, nothing acknowledged missing unless told. */
  check (t: Test, acknowledged: readonly number[], label: string): void {
    const sorted = [...this.received].sort((a, b) => a - b)
    t.same(this.received, sorted, `${label}: in order`)
    t.same(new Set(this.received).size, this.received.length, `${label}: no duplicate`)
    const got = new Set(this.received)
    const missing = acknowledged.filter((n) => !got.has(n))
    t.ok(missing.length === 0 || this.told > 0, `${label}: ${missing.length} acknowledged missing, told ${this.told} times`)
  }
}

/**
 * Publishes counters 1..n one after the other, as an app would: each with
 * its own idempotency key, retried on failure until acknowledged. `during`
 * runs after publish `at` (kill, stall, restart) and is awaited.
 */
export async function publishThrough (client: PubsubClient, topic: string, n: number, faults: Map<number, () => Promise<void>>): Promise<number[]> {
  const acknowledged: number[] = []
  const duplicates: number[] = []
  for (let i = 1; i <= n; i++) {
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await client.publish(topic, i, { key: `m${i}` })
        if (ack.duplicate === true) duplicates.push(i)
        acknowledged.push(i)
        break
      } catch (err) {
        if (attempt > 200) throw err
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    await faults.get(i)?.()
  }
  return acknowledged
}

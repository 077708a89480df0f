// Messages flowing through two nodes while the cluster under them changes
// (a failover, a reshard): what each session was given or told, what each
// publish was acknowledged with, and the checks that nothing went silent.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Broker } from '../../../src/pubsub/broker.js'
import type { Position } from '../../../src/pubsub/session.js'

/** What a session was given or told, in order, and when. */
export type Event = { kind: 'message', topic: string, seq: number, epoch: string, at: number } | { kind: 'reset', key: string, position: Position | undefined, at: number }

/** A session of `broker` that records into `events`. */
export function recordingSession (broker: Broker, events: Event[]): ReturnType<Broker['connect']> {
  return broker.connect({
    deliver (message) { events.push({ kind: 'message', topic: message.topic, seq: message.seq, epoch: message.epoch, at: Date.now() }) },
    reset (key, position) { events.push({ kind: 'reset', key, position, at: Date.now() }) }
  })
}

/** Each topic's acknowledged publishes: seq and when the answer came. */
export type Acked = Map<string, Array<{ seq: number, epoch: string, at: number }>>

/**
 * Publishes to every topic, round after round, until the returned stop is
 * called (and resolves once the round ends). A publish that fails (a shard
 * away: 503) is not acknowledged but noted in `refused`, and the loop goes
 * on with the next.
 */
export function publishAll (broker: Broker, topics: string[], acked: Acked, refused: Array<{ topic: string, at: number, error: string }> = []): () => Promise<void> {
  for (const topic of topics) if (!acked.has(topic)) acked.set(topic, [])
  const state = { running: true }
  const loop = (async () => {
    while (state.running) {
      for (const topic of topics) {
        await broker.publish(topic, 'm').then(({ seq, epoch }) => { acked.get(topic)?.push({ seq, epoch, at: Date.now() }) }, (err: Error) => {
          refused.push({ topic, at: Date.now(), error: err.message })
        })
      }
      // Paces the publisher (about 50 rounds a second); it waits for nothing.
      await sleep(20)
    }
  })()
  return async () => { state.running = false; await loop }
}

/** `seq@epoch` of what `events` delivered of `topic`: seqs alone repeat across epochs. */
export function deliveredIds (events: Event[], topic: string): string[] {
  return events.flatMap((e) => e.kind === 'message' && e.topic === topic ? [`${e.seq}@${e.epoch}`] : [])
}

/**
 * Where an exact subscriber (subscribed before the topic's first publish)
 * saw a seq that was not the next one without a reset before it.
 */
export function silentGapsExact (events: Event[], topic: string): string[] {
  let at: number | undefined = 0
  const silent: string[] = []
  for (const event of events) {
    if (event.kind === 'reset' && event.key === topic) at = event.position?.seq
    if (event.kind !== 'message' || event.topic !== topic) continue
    if (at !== undefined && event.seq !== at + 1) silent.push(`${at} then ${event.seq}`)
    at = event.seq
  }
  return silent
}

/**
 * The same for a topic seen through a pattern, whose node cannot catch up:
 * a gap, or a sequence that restarted (another epoch), must follow a reset
 * of the pattern; a seq again is never right.
 */
export function silentGapsPattern (events: Event[], topic: string): string[] {
  let last: { seq: number, epoch: string } | undefined
  let told = false
  const silent: string[] = []
  for (const event of events) {
    if (event.kind === 'reset') told = true
    if (event.kind !== 'message' || event.topic !== topic) continue
    const next = last === undefined || event.epoch !== last.epoch ? 1 : last.seq + 1
    if ((event.seq !== next || event.epoch !== (last?.epoch ?? event.epoch)) && !told) silent.push(`${last?.seq ?? 0} then ${event.seq}`)
    if (last !== undefined && event.epoch === last.epoch && event.seq <= last.seq) silent.push(`${last.seq} then ${event.seq} again`)
    last = event
    told = false
  }
  return silent
}

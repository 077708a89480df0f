import type { Recovery } from './engine.js'
import { Message } from './message.js'

/** A retained message: what a replay needs besides the topic and epoch. */
export interface Retained {
  readonly seq: number
  readonly ts: number
  /** The data as JSON text. */
  readonly json: string
}

/**
 * One topic's last `capacity` messages, oldest first, in a ring: memory per
 * topic is bounded, and appending never copies. Seqs in it are consecutive,
 * so the messages after a given seq are found by arithmetic, not search.
 */
export class History {
  readonly #capacity: number
  // Grown up to capacity on demand: most topics never fill their ring.
  #ring: Array<Retained | undefined> = []
  #start = 0
  #size = 0
  #bytes = 0

  constructor (capacity: number) {
    this.#capacity = capacity
  }

  get size (): number {
    return this.#size
  }

  /** The JSON bytes retained (each message's data once; an approximation of memory, for metrics). */
  get bytes (): number {
    return this.#bytes
  }

  /** The oldest retained seq, or undefined when empty. */
  get first (): number | undefined {
    return this.#size === 0 ? undefined : this.#at(0).seq
  }

  push (message: Retained): void {
    this.#bytes += message.json.length
    if (this.#ring.length < this.#capacity) {
      this.#ring.push(message)
      this.#size++
      return
    }
    const end = (this.#start + this.#size) % this.#capacity
    if (this.#size === this.#capacity) {
      this.#bytes -= this.#at(0).json.length
      this.#start = (this.#start + 1) % this.#capacity
    } else {
      this.#size++
    }
    this.#ring[end] = message
  }

  /** Drops the messages published before `ts`. */
  expire (ts: number): void {
    while (this.#size > 0 && this.#at(0).ts < ts) {
      this.#bytes -= this.#at(0).json.length
      // Let the expired message go now, not when its slot is reused.
      this.#ring[this.#start] = undefined
      this.#start = (this.#start + 1) % this.#capacity
      this.#size--
    }
    if (this.#size === 0) {
      this.#ring = []
      this.#start = 0
    }
  }

  /** The retained messages with seq > `since`, oldest first, at most `limit` of them. */
  after (since: number, limit = Infinity): Retained[] {
    const first = this.first
    if (first === undefined) return []
    const skip = Math.max(0, since - first + 1)
    const out: Retained[] = []
    for (let i = skip; i < this.#size && out.length < limit; i++) out.push(this.#at(i))
    return out
  }

  #at (i: number): Retained {
    return this.#ring[(this.#start + i) % this.#capacity] as Retained
  }
}

/**
 * The contract's recovery rule, the same for every engine: the messages
 * after `since` when the epoch is the topic's and every one of them is still
 * retained; undefined when recovery is impossible. `retained` (oldest first)
 * is only read when something was missed.
 */
export function replayFrom (topic: string, current: { seq: number, epoch: string }, { since, epoch }: Recovery, retained: () => Retained[]): Message[] | undefined {
  if (epoch !== current.epoch || since > current.seq) return undefined
  if (since === current.seq) return []
  const kept = retained()
  const first = kept[0]?.seq
  if (first === undefined || first > since + 1) return undefined
  return kept.filter((m) => m.seq > since).map((m) => new Message(topic, m.seq, current.epoch, m.ts, m.json))
}

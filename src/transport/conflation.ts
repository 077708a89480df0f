import type { Broker } from '../pubsub/broker.js'
import type { Message } from '../pubsub/message.js'
import type { Clients } from './clients.js'

/** How one transport conflates (docs/namespaces.md, `conflate`): one per route, shared by its clients. */
export interface ConflationPolicy {
  /** Whether messages of `topic` conflate. Asked only for a client that is behind: a cached namespace lookup. */
  conflates: (topic: string) => boolean
  /** The frame (or SSE event) of a held message that says how many of its topic's messages were `skipped` before it. */
  encode: (message: Message, subscription: string | undefined, skipped: number) => Buffer
  /** Counts `messages` that a client will not get: a later message of their topic replaced them. */
  skipped: (messages: number) => void
}

/** The policy of a route of `broker`'s: its namespaces say which topics conflate; `sse` for event streams. */
export function conflationPolicy (broker: Broker, clients: Clients, sse: boolean): ConflationPolicy {
  return {
    conflates: (topic) => broker.namespace(topic)?.conflate === true,
    encode: (message, subscription, skipped) => message.skipping(subscription, skipped, sse),
    skipped: (messages) => { clients.conflated += messages }
  }
}

export interface Held {
  message: Message
  subscription: string | undefined
  /** Its frame (or SSE event) as any receiver gets it: what goes out when nothing was skipped. */
  frame: Buffer
  /** Messages of the topic replaced while it waited. */
  skipped: number
}

/**
 * A client's latest message of each conflating topic while it is behind:
 * one entry per topic, so its size is the number of topics it is behind on.
 * Insertion order is the order they fell behind in, which is the order
 * they go out in.
 */
export class LatestPerTopic {
  readonly #held = new Map<string, Held>()
  #bytes = 0

  /** Bytes of the frames held. */
  get bytes (): number {
    return this.#bytes
  }

  /** Whether `topic` has a message waiting: a later one must wait behind it, not overtake it. */
  has (topic: string): boolean {
    return this.#held.has(topic)
  }

  /** Keeps `message` as its topic's latest; returns whether it replaced one (which the client will never get). */
  hold (message: Message, subscription: string | undefined, frame: Buffer): boolean {
    const held = this.#held.get(message.topic)
    if (held === undefined) {
      this.#held.set(message.topic, { message, subscription, frame, skipped: 0 })
      this.#bytes += frame.length
      return false
    }
    this.#bytes += frame.length - held.frame.length
    held.message = message
    held.subscription = subscription
    held.frame = frame
    held.skipped++
    return true
  }

  /** Drops what is held through `subscription` (a topic or pattern), which ended; returns how many. */
  forget (subscription: string): number {
    let forgotten = 0
    for (const held of this.#held.values()) {
      if ((held.subscription ?? held.message.topic) !== subscription) continue
      this.#held.delete(held.message.topic)
      this.#bytes -= held.frame.length
      forgotten++
    }
    return forgotten
  }

  /** Everything held, oldest topic first, leaving it empty. */
  take (): Held[] {
    const held = [...this.#held.values()]
    this.clear()
    return held
  }

  /** Empties it; returns how many messages were waiting. */
  clear (): number {
    const messages = this.#held.size
    this.#held.clear()
    this.#bytes = 0
    return messages
  }
}

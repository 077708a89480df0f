import type { Recovery } from './engine.js'
import type { Message } from './message.js'

/** Whatever receives messages: a WebSocket connection, an in-process callback. */
export interface Subscriber {
  /** The id shown in presence (`GET /topics/:topic`); in-process subscribers have none. */
  readonly clientId?: string
  /** With auth on, the token's subject: presence shows it instead of the clientId. */
  readonly sub?: string | undefined
  /**
   * Called synchronously, in `seq` order per topic, once per message however
   * many of the session's subscriptions match it. `subscription` is the
   * pattern it matched through, or undefined for an exact subscription.
   * Must not throw, and must not publish synchronously (defer it): a
   * fan-out must not start inside another.
   */
  deliver (message: Message, subscription: string | undefined): void
  /**
   * Messages of `subscription` (a topic or pattern) may have been lost: the
   * node missed them and could not replay them, or the topic's sequence
   * restarted under a new epoch. For a topic, `position` is where live
   * delivery goes on from (the next message has a higher seq in that epoch).
   * Subscribers that cannot tell their client (in-process ones) leave it out.
   */
  reset? (subscription: string, position: Position | undefined): void
}

/** A point in a topic's sequence: its last seq, in which epoch. */
export interface Position {
  seq: number
  epoch: string
}

/** The figures the ack of a subscribe carries, and what to replay. */
export interface SubscribeResult {
  topic: string
  /** The topic's latest seq; undefined for a wildcard pattern. */
  seq?: number
  epoch?: string
  /** Asked to recover: whether every message after `since` follows (in `replay`). */
  recovered?: boolean
  /** The retained messages after `since`, in order, to send before any live one. */
  replay?: Message[]
}

/**
 * One subscriber's subscriptions, as `broker.connect()` returns them. The
 * broker's own record behind it (keys, the fan-out mark) stays internal.
 */
export interface BrokerSession {
  /** Topics and patterns this session is subscribed to. */
  readonly subscriptions: ReadonlySet<string>
  /**
   * Subscribes to a topic or pattern; idempotent. Resolves once live: any
   * message published from then on reaches the session. With `recovery`,
   * also says whether what was missed since then can be replayed, and gives
   * it; live messages may overlap the replay, never leave a gap after it.
   * Patterns never recover.
   */
  subscribe (key: string, recovery?: Recovery): Promise<SubscribeResult>
  /** Ends a subscription; idempotent. No message reaches it once this resolves. */
  unsubscribe (key: string): Promise<void>
  /** Ends every subscription at once; idempotent. */
  close (): void
}

import type { Message } from './message.js'
import type { Session, SubscribeResult } from './session.js'

/** What a publish returns. */
export interface PublishResult {
  topic: string
  seq: number
  epoch: string
  /** Sessions the message was handed to (on this node, for a network engine). */
  delivered: number
  /** The publish's key was used within the idempotency window: this is the first publish's result, and nothing was published. */
  duplicate?: true
}

export interface TopicInfo {
  topic: string
  /** Sessions subscribed to exactly this topic. */
  subscribers: number
  /** The topic's latest seq. */
  seq: number
  epoch: string
  /** Client ids of some of the subscribers (presence), from `topic()` only. */
  clients?: string[]
}

/** Where a subscriber left off: the last seq it saw, in which epoch. */
export interface Recovery {
  since: number
  epoch: string | undefined
}

/** Retained messages of one topic, as `history()` returns them. */
export interface HistoryPage {
  topic: string
  seq: number
  epoch: string
  /** The oldest retained seq; undefined when nothing is retained. */
  first: number | undefined
  messages: Message[]
}

/**
 * Told of each local fan-out of a published message (not of replays): the
 * sessions it reached on this node, and the ms from its publish to the end
 * of this fan-out, on the engine's clock (in process: the monotonic clock;
 * across nodes: their wall clocks, whose difference is in it).
 */
export type FanoutListener = (message: Message, delivered: number, latencyMs: number) => void

export interface PatternInfo {
  pattern: string
  subscribers: number
}

/** Figures for metrics; a network engine gives its own node's. */
export interface EngineCounts {
  subscriptions: number
  topics: number
  patterns: number
}

export interface TopicQuery {
  /** Only names starting with this. */
  prefix: string
  /** At most this many entries, topics and patterns together. */
  limit: number
  /** Only names after this one (the `next` of the previous page). */
  after?: string | undefined
}

export interface TopicPage {
  topics: TopicInfo[]
  patterns: PatternInfo[]
  /** The last name of a truncated page: pass it as `after` for the next one. */
  next?: string
}

/**
 * Where messages get their sequence numbers and how they reach subscribers.
 * The broker validates every argument before calling an engine, and keeps
 * calls of one session in order. Each engine passes test/pubsub/engine-conformance.ts.
 */
export interface Engine {
  /**
   * Adds the session's subscription to a valid topic or pattern. When the
   * promise resolves the subscription is live: any message published from
   * then on reaches the session. A session closed meanwhile is not added.
   * With `recovery`, the result says whether every message after `since` in
   * that epoch is still retained, and gives them in `replay`; delivered
   * messages may overlap the replay (the caller drops seqs already replayed)
   * but never leave a gap after it. Patterns never recover.
   */
  subscribe (session: Session, key: string, recovery?: Recovery): Promise<SubscribeResult>
  /** Removes one subscription; a no-op when there is none. */
  unsubscribe (session: Session, key: string): Promise<void>
  /** Removes every subscription of a closed session, at once. */
  removeSession (session: Session): void
  /**
   * Assigns the next seq of `topic` and delivers; `json` is the data as JSON
   * text. With `key` (1 to 64 characters), a publish whose key was used on
   * the same topic within the idempotency window is not applied: it resolves
   * with the first one's result and `duplicate: true`, on every node.
   */
  publish (topic: string, json: string, key?: string): Promise<PublishResult>
  topics (query: TopicQuery): Promise<TopicPage>
  /** Figures of one topic, with up to `presence` client ids; undefined when it has no subscribers and nothing retained. */
  topic (name: string, presence: number): Promise<TopicInfo | undefined>
  /** Up to `limit` retained messages of `topic` with seq > `since`; undefined when the topic is unknown (no subscribers, nothing retained). */
  history (topic: string, since: number, limit: number): Promise<HistoryPage | undefined>
  /** JSON bytes of retained messages (this node's, for metrics), cheaply. */
  historyBytes (): number
  /** Subscriptions, topics and patterns now, cheaply (read at each metrics scrape). */
  counts (): EngineCounts
  /** Whether the engine can take work now (readiness): a network engine is connected. */
  healthy (): boolean
  /** Releases everything; idempotent. */
  close (): Promise<void>
  /** Set by the broker (metrics: deliveries, publish-to-fan-out latency); an engine without it reports neither. */
  onFanout?: FanoutListener | undefined
}

import type { Message } from './message.js'
import type { Namespaces } from './namespaces.js'
import type { Position } from './session.js'
import type { SortedKeys } from './sorted-keys.js'

/** What a publish returns. */
export interface PublishResult {
  topic: string
  seq: number
  epoch: string
  /**
   * Sessions on this node the message is handed to, whatever the engine:
   * in-process subscribers and connections with a matching subscription.
   * Subscribers on other nodes are not counted.
   */
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
  /** The pattern of the topic's namespace, from the broker's `topic()` only; absent when it is in none. */
  namespace?: string
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

/** A topic's position when a session subscribes, and what it missed when it asked to recover. */
export interface Snapshot {
  seq: number
  epoch: string
  /**
   * Asked to recover: the retained messages after `since`, in order (maybe
   * none), or undefined when some of them are gone (not recovered).
   */
  replay?: Message[] | undefined
}

/**
 * The broker's local subscriptions as an engine may read them (never write):
 * presence and listings count them, a network engine follows them.
 */
export interface LocalSubscriptions {
  /** Local sessions subscribed to exactly this topic or pattern. */
  count (key: string): number
  /** How many local sessions a message to `topic` would reach now. */
  reach (topic: string): number
  /** Client ids (or subs) of up to `limit` local sessions subscribed exactly to `key`. */
  clientIds (key: string, limit: number): string[]
  /** Topics with a local exact subscriber, sorted. */
  readonly topicNames: SortedKeys
  /** Patterns with a local subscriber, sorted. */
  readonly patternNames: SortedKeys
}

/**
 * What the broker gives an engine once, in `attach`: the way back for
 * messages, and a read-only view of who is subscribed on this node.
 */
export interface EngineLink {
  /**
   * Hands a message to every local session subscribed to its topic, once
   * each, synchronously; returns how many. For a message published here, call
   * it from within `publish` (an in-process engine) or when it comes back from
   * the network; also for messages a node catches up on.
   */
  deliver (message: Message): number
  /** Messages of `key` may have been lost: its local sessions are told (Subscriber.reset). */
  reset (key: string, position: Position | undefined): void
  readonly local: LocalSubscriptions
  /**
   * The broker's namespaces, undefined when there are none: a topic's
   * `historySize` and `historyTtl` are its namespace's where it sets them
   * (`resolve(topic)`, cached), the engine's own otherwise. An engine that
   * ignores them keeps its own for every topic.
   */
  readonly namespaces: Namespaces | undefined
}

/** Who is subscribed, across nodes (centrifuge's PresenceManager). */
export interface Presence {
  /** The broker calls it after a local session joined or left `key` (a topic or pattern). */
  changed (key: string): void
  /** Sessions subscribed to exactly `key` on every node, with up to `limit` of their client ids. */
  subscribers (key: string, limit: number): Promise<{ count: number, clients: string[] }>
}

/**
 * Where messages get their sequence numbers, and the link between nodes. The
 * broker keeps the local subscriptions and fans out; it tells the engine of
 * the first and last local interest in a key (`listen`, `unlisten`), takes
 * a snapshot for each topic subscribe, and gets messages back through the
 * `EngineLink` it attaches. It validates every argument before calling.
 * Each engine passes the conformance suite, `fastify-pubsub/engine-conformance`.
 */
export interface Engine {
  /** Called once by the broker, before anything else. */
  attach (link: EngineLink): void
  readonly presence: Presence
  /**
   * The first local session subscribed to `key`. When the returned promise
   * resolves (at once when it returns nothing), messages to it arrive
   * through `link.deliver`.
   */
  listen (key: string): Promise<void> | undefined
  /** The last local session of `key` left; failures are the engine's to absorb. */
  unlisten (key: string): Promise<void> | undefined
  /**
   * A topic's latest seq and epoch, for a session subscribing to it (and
   * subscribed already). With `recovery`, whether every message after
   * `since` in that epoch is still retained, and those messages in `replay`;
   * delivered messages may overlap the replay (the caller drops seqs
   * already replayed) but never leave a gap after it. An in-process engine
   * answers within the call, so that no publish falls in between.
   */
  snapshot (topic: string, recovery?: Recovery): Promise<Snapshot>
  /**
   * Assigns the next seq of `topic` and sends the message on, `json` being
   * the data as JSON text. With `key` (1 to 64 characters), a publish whose
   * key was used on the same topic within the idempotency window is not
   * applied: it resolves with the first one's result and `duplicate: true`,
   * on every node. `delivered` is what `link.deliver` returned, for an engine
   * that fans out within this call; else what `link.local.reach(topic)`
   * counts, for a network engine whose message comes back later.
   */
  publish (topic: string, json: string, key?: string): Promise<PublishResult>
  topics (query: TopicQuery): Promise<TopicPage>
  /** Figures of one topic, with up to `presence` client ids; undefined when it has no subscribers and nothing retained. */
  topic (name: string, presence: number): Promise<TopicInfo | undefined>
  /** Up to `limit` retained messages of `topic` with seq > `since`; undefined when the topic is unknown (no subscribers, nothing retained). */
  history (topic: string, since: number, limit: number): Promise<HistoryPage | undefined>
  /** JSON bytes of retained messages (this node's, for metrics), cheaply. */
  historyBytes (): number
  /** Whether the engine can take work now (readiness): a network engine is connected. */
  healthy (): boolean
  /** Releases everything; idempotent. */
  close (): Promise<void>
}

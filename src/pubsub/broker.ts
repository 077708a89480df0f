import { performance } from 'node:perf_hooks'
import { Counters, type Transport } from './counters.js'
import type { Engine, EngineCounts, EngineLink, HistoryPage, Presence, PublishResult, Recovery, TopicInfo, TopicPage } from './engine.js'
import {
  clip,
  PUBSUB_ERR_BAD_REQUEST,
  PUBSUB_ERR_INVALID_TOPIC,
  PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS,
  PUBSUB_ERR_UNAVAILABLE
} from '../protocol/errors.js'
import { MemoryEngine } from './memory-engine.js'
import { isIdempotencyKey, MAX_KEY_LENGTH } from '../protocol/idempotency.js'
import type { Message } from './message.js'
import { admit, compileNamespaces, type Namespace, type Namespaces } from './namespaces.js'
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js'
import type { BrokerSession, SubscribeResult, Subscriber } from './session.js'

export type { BrokerSession } from './session.js'
import { SubscriptionIndex, type IndexedSession } from './subscription-index.js'
import { hasWildcard, isPattern, isTopic, tokenCount } from '../protocol/topic.js'

/** An in-process subscriber's callback. */
export type MessageHandler = (message: Message, subscription: string | undefined) => unknown

/** The few logger methods the broker uses; pino and Fastify's logger fit. */
export interface BrokerLogger {
  error (obj: object, msg: string): void
}

/**
 * Told of each local fan-out of a message (published here or arriving from
 * another node; also of a node's catch-up replays): the sessions it reached
 * on this node, and the ms from its publish to the end of this fan-out (in
 * process: the monotonic clock from the publish call; from another node:
 * their wall clocks, whose difference is in it).
 */
export type FanoutObserver = (message: Message, delivered: number, latencyMs: number) => void

/** What `broker.observe()` takes; either callback may be left out. */
export interface BrokerObserver {
  /** A publish the engine took (not a duplicate). */
  published? (topic: string): void
  fanout?: FanoutObserver
}

/** Options of `broker.publish()`. */
export interface PublishOptions {
  /**
   * An idempotency key, 1 to 64 characters: a publish whose key was used on
   * the same topic within the idempotency window is not applied again, and
   * resolves with the first one's result plus `duplicate: true`.
   */
  key?: string
  /** Who published, for metrics (default 'app': in-process). */
  transport?: Transport
  /**
   * Published for a client (a WebSocket connection; a REST request with a
   * client's token, or with auth off): refused FORBIDDEN in a namespace whose
   * clientPublish is false. Default false: the application itself.
   */
  client?: boolean
}

/** Options of `broker.topics()`. */
export interface ListOptions {
  prefix?: string
  /** Default 100, at most 1,000. */
  limit?: number
  /** The `next` of the previous page. */
  after?: string
}

/**
 * The publish/subscribe broker: validates, enforces limits, and hands the
 * work to an engine (in memory by default). Used by the WebSocket and REST
 * routes, and by any code holding `fastify.pubsub`.
 *
 * @example
 * const broker = new Broker()
 * const off = await broker.subscribe('news.*', (msg) => console.log(msg.topic, msg.data))
 * await broker.publish('news.sports', { score: '2-1' })  // { topic, seq: 1, epoch, delivered: 1 }
 * await off()
 */
export class Broker {
  readonly options: ResolvedBrokerOptions
  /** Counters for metrics (src/routes/metrics). */
  readonly counters = new Counters()
  readonly #engine: Engine
  readonly #presence: Presence
  readonly #log: BrokerLogger | undefined
  /** Every local session's subscriptions: the broker fans out, whatever the engine. */
  readonly #index = new SubscriptionIndex()
  /** The engine's listen of each key with local sessions, while it may still be on its way (network engines only). */
  readonly #listens = new Map<string, Promise<void>>()
  readonly #hub: Hub
  /** Undefined without namespaces: a publish then pays one check. */
  readonly #namespaces: Namespaces | undefined
  // Undefined while nobody observes: the fan-out path then pays one check.
  #publishedObservers: Array<(topic: string) => void> | undefined
  #fanoutObservers: FanoutObserver[] | undefined
  /** performance.now() at the publish being handed to the engine, while observed: in-process fan-outs happen within it. */
  #publishStarted: number | undefined
  #closed = false

  constructor (options: BrokerOptions = {}, deps: { engine?: Engine, logger?: BrokerLogger } = {}) {
    this.options = resolveBrokerOptions(options)
    this.#namespaces = compileNamespaces(options.namespaces)
    this.#engine = deps.engine ?? new MemoryEngine()
    this.#presence = this.#engine.presence
    this.#log = deps.logger
    this.#hub = {
      subscribe: async (session, key, recovery) => await this.#subscribe(session, key, recovery),
      unsubscribe: async (session, key) => { await this.#remove(session, key) },
      close: (session) => { this.#closeSession(session) }
    }
    const link: EngineLink = {
      deliver: (message) => this.#deliver(message),
      reset: (key, position) => { this.#index.reset(key, position) },
      local: this.#index,
      namespaces: this.#namespaces
    }
    this.#engine.attach(link)
  }

  get closed (): boolean {
    return this.#closed
  }

  /** Open, with an engine that can take work now (for the Redis engine: connected); what readiness reports. */
  get healthy (): boolean {
    return !this.#closed && this.#engine.healthy()
  }

  /** Starts a session for a subscriber, such as one WebSocket connection. */
  connect (subscriber: Subscriber): BrokerSession {
    this.#assertOpen()
    return new Session(this.#hub, subscriber)
  }

  /**
   * Subscribes a callback to a topic or pattern. Resolves once the
   * subscription is live, with a function that ends it. Callbacks run soon
   * after the publish that matched them (a microtask later), in seq order; one
   * that throws or rejects is logged and does not disturb other subscribers.
   */
  async subscribe (pattern: string, handler: MessageHandler): Promise<() => Promise<void>> {
    const log = this.#log
    function run (message: Message, subscription: string | undefined): void {
      try {
        const result = handler(message, subscription)
        if (result instanceof Promise) result.catch((err: unknown) => log?.error({ err, topic: message.topic }, 'pubsub subscriber rejected'))
      } catch (err) {
        log?.error({ err, topic: message.topic }, 'pubsub subscriber threw')
      }
    }
    const session = this.connect({
      // Handlers run after the fan-out, in delivery order: one that publishes
      // must not start a fan-out inside the one that is delivering to it.
      deliver (message, subscription) { queueMicrotask(() => { run(message, subscription) }) }
    })
    try {
      await session.subscribe(pattern)
    } catch (err) {
      session.close()
      throw err
    }
    return async () => { session.close() }
  }

  /**
   * Publishes a JSON value to a concrete topic. Rejects with
   * PUBSUB_ERR_INVALID_TOPIC, PUBSUB_ERR_BAD_REQUEST (not JSON-serializable,
   * `undefined`, or a bad key; past its namespace's maxMessageBytes),
   * PUBSUB_ERR_INVALID_MESSAGE (its namespace's schema), PUBSUB_ERR_FORBIDDEN
   * (`client` where clientPublish is false) or PUBSUB_ERR_UNAVAILABLE (closed). The
   * result's `delivered` counts the sessions on this node the message is
   * handed to, whatever the engine.
   */
  async publish (topic: string, data: unknown, { key, transport = 'app', client }: PublishOptions = {}): Promise<PublishResult> {
    this.#assertOpen()
    assertTopic(topic)
    if (key !== undefined && !isIdempotencyKey(key)) {
      throw new PUBSUB_ERR_BAD_REQUEST(`an idempotency key must be a string of 1 to ${MAX_KEY_LENGTH} characters`)
    }
    let json: string | undefined
    try {
      json = JSON.stringify(data)
    } catch (err) {
      // Cycles, BigInt, or nesting deeper than the stack: JSON.parse accepts
      // depths that JSON.stringify overflows on.
      throw new PUBSUB_ERR_BAD_REQUEST(`message cannot be serialized as JSON: ${(err as Error).message}`)
    }
    if (json === undefined) throw new PUBSUB_ERR_BAD_REQUEST('message must be a JSON value')
    if (this.#namespaces !== undefined) {
      const namespace = this.#namespaces.resolve(topic)
      if (namespace !== undefined) admit(namespace, data, json, client === true)
    }
    let pending: Promise<PublishResult>
    if (this.#fanoutObservers === undefined) {
      pending = this.#engine.publish(topic, json, key)
    } else {
      // An in-process engine fans out within this call: its latency is measured from here.
      this.#publishStarted = performance.now()
      try {
        pending = this.#engine.publish(topic, json, key)
      } finally {
        this.#publishStarted = undefined
      }
    }
    const result = await pending
    if (result.duplicate === true) return result
    this.counters.published[transport]++
    const observers = this.#publishedObservers
    if (observers !== undefined) for (const observer of observers) observer(topic)
    return result
  }

  /**
   * Calls `observer` on each publish and each local fan-out (metrics do);
   * returns a function that stops it. Nothing is paid on the fan-out path
   * while nobody observes.
   */
  observe (observer: BrokerObserver): () => void {
    const published = observer.published?.bind(observer)
    const fanout = observer.fanout?.bind(observer)
    if (published !== undefined) this.#publishedObservers = [...this.#publishedObservers ?? [], published]
    if (fanout !== undefined) this.#fanoutObservers = [...this.#fanoutObservers ?? [], fanout]
    let observing = true
    return () => {
      if (!observing) return
      observing = false
      this.#publishedObservers = without(this.#publishedObservers, published)
      this.#fanoutObservers = without(this.#fanoutObservers, fanout)
    }
  }

  /** Subscriptions, topics and patterns of this node's sessions. */
  counts (): EngineCounts {
    return this.#index.counts
  }

  /** The namespace of a concrete topic (docs/namespaces.md), or undefined when it is in none. */
  namespace (topic: string): Namespace | undefined {
    return this.#namespaces?.resolve(topic)
  }

  /** A page of topics and patterns, sorted by name. */
  async topics (options: ListOptions = {}): Promise<TopicPage> {
    this.#assertOpen()
    const limit = Math.min(options.limit ?? 100, 1000)
    if (!Number.isInteger(limit) || limit < 1) throw new PUBSUB_ERR_BAD_REQUEST('limit must be an integer from 1 to 1000')
    return await this.#engine.topics({ prefix: options.prefix ?? '', limit, after: options.after })
  }

  /** One topic's figures with up to `presenceLimit` subscriber ids (none where its namespace has presence: false) and its namespace's pattern, or undefined when it has no subscribers and nothing retained. */
  async topic (name: string): Promise<TopicInfo | undefined> {
    this.#assertOpen()
    assertTopic(name)
    const namespace = this.#namespaces?.resolve(name)
    if (namespace === undefined) return await this.#engine.topic(name, this.options.presenceLimit)
    // presence: false: the topic's client ids are neither read nor served.
    const info = await this.#engine.topic(name, namespace.presence ? this.options.presenceLimit : 0)
    if (info === undefined) return undefined
    if (!namespace.presence) delete info.clients
    info.namespace = namespace.pattern
    return info
  }

  /**
   * Retained messages of a topic with seq > `since` (default 0), at most
   * `limit` (default 100, at most 1,000); undefined when the topic has no
   * subscribers and nothing retained.
   */
  async history (topic: string, options: { since?: number, limit?: number } = {}): Promise<HistoryPage | undefined> {
    this.#assertOpen()
    assertTopic(topic)
    const since = options.since ?? 0
    const limit = options.limit ?? 100
    if (!Number.isSafeInteger(since) || since < 0) throw new PUBSUB_ERR_BAD_REQUEST('since must be an integer >= 0')
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new PUBSUB_ERR_BAD_REQUEST('limit must be an integer from 1 to 1000')
    return await this.#engine.history(topic, since, limit)
  }

  /** JSON bytes held in message history (this node's), for metrics. */
  historyBytes (): number {
    return this.#engine.historyBytes()
  }

  /** Closes the engine; idempotent. Publishing afterwards rejects with PUBSUB_ERR_UNAVAILABLE. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#engine.close()
  }

  /** The engine's way back (EngineLink.deliver): the local fan-out of one message. */
  #deliver (message: Message): number {
    const delivered = this.#index.deliver(message)
    this.counters.deliveries += delivered
    const observers = this.#fanoutObservers
    if (observers !== undefined) {
      const started = this.#publishStarted
      // The publishing node's wall clock against this one's: ms resolution.
      const latencyMs = started === undefined ? Date.now() - message.ts : performance.now() - started
      for (const observer of observers) observer(message, delivered, latencyMs)
    }
    return delivered
  }

  async #subscribe (session: Session, key: string, recovery: Recovery | undefined): Promise<SubscribeResult> {
    this.#assertUsable(session, key)
    const { maxSubscriptions, maxPatternTokens, maxSubscriptionBytes } = this.options
    const wildcard = hasWildcard(key)
    if (wildcard && tokenCount(key) > maxPatternTokens) throw invalidTopic(key, `a pattern has at most ${maxPatternTokens} tokens`)
    // A repeated subscribe that fails must not take the first one with it.
    const had = session.keys.has(key)
    if (!had) {
      if (session.keys.size >= maxSubscriptions) throw new PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS(`At most ${maxSubscriptions} subscriptions per connection`)
      if (session.keyBytes + key.length > maxSubscriptionBytes) {
        throw new PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS(`At most ${maxSubscriptionBytes} bytes of topics and patterns per connection`)
      }
    }
    // Indexed first, so that a message sent on once the engine listens reaches it.
    const first = this.#index.add(session, key)
    this.#presence.changed(key)
    try {
      const listening = first ? this.#listen(key) : this.#listens.get(key)
      if (listening !== undefined) await listening
      if (session.closed) throw new PUBSUB_ERR_UNAVAILABLE('session closed')
      if (wildcard) return recovery === undefined ? { topic: key } : { topic: key, recovered: false }
      // An in-process engine answers in this turn: no publish falls between
      // the replay and the live messages.
      const { seq, epoch, replay } = await this.#engine.snapshot(key, recovery)
      const result: SubscribeResult = { topic: key, seq, epoch }
      if (recovery === undefined) return result
      result.recovered = replay !== undefined
      if (replay !== undefined && replay.length > 0) result.replay = replay
      return result
    } catch (err) {
      if (!had) void this.#unindex(session, key)
      throw err
    }
  }

  #listen (key: string): Promise<void> | undefined {
    const listening = this.#engine.listen(key)
    if (listening !== undefined) this.#listens.set(key, listening)
    return listening
  }

  /** Removes one subscription; resolves once the engine stopped listening, if that was the last. */
  async #remove (session: Session, key: string): Promise<void> {
    this.#assertUsable(session, key)
    await this.#unindex(session, key)
  }

  #unindex (session: Session, key: string): Promise<void> | undefined {
    const last = this.#index.remove(session, key)
    this.#presence.changed(key)
    if (!last) return
    this.#listens.delete(key)
    return this.#engine.unlisten(key)?.catch(() => {})
  }

  #closeSession (session: Session): void {
    if (session.closed) return
    session.closed = true
    if (this.#closed) return
    for (const key of [...session.keys]) void this.#unindex(session, key)
  }

  #assertOpen (): void {
    if (this.#closed) throw new PUBSUB_ERR_UNAVAILABLE('broker is closed')
  }

  /** A request of an open session, for a valid topic or pattern. */
  #assertUsable (session: Session, key: string): void {
    if (session.closed || this.#closed) throw new PUBSUB_ERR_UNAVAILABLE('session is closed')
    if (typeof key !== 'string' || !isPattern(key)) throw invalidTopic(key)
  }
}

/** The broker's private operations that a session calls. */
interface Hub {
  subscribe (session: Session, key: string, recovery: Recovery | undefined): Promise<SubscribeResult>
  unsubscribe (session: Session, key: string): Promise<void>
  close (session: Session): void
}

/**
 * The broker's record of one subscriber, as the subscription index holds it
 * and as `connect()` returns it (typed as BrokerSession, so its keys and
 * fan-out mark stay internal).
 */
class Session implements BrokerSession, IndexedSession {
  readonly subscriber: Subscriber
  readonly keys = new Set<string>()
  keyBytes = 0
  mark = 0
  closed = false
  readonly #hub: Hub

  constructor (hub: Hub, subscriber: Subscriber) {
    this.#hub = hub
    this.subscriber = subscriber
  }

  get subscriptions (): ReadonlySet<string> {
    return this.keys
  }

  async subscribe (key: string, recovery?: Recovery): Promise<SubscribeResult> {
    return await this.#hub.subscribe(this, key, recovery)
  }

  async unsubscribe (key: string): Promise<void> {
    await this.#hub.unsubscribe(this, key)
  }

  close (): void {
    this.#hub.close(this)
  }
}

function without<T> (list: T[] | undefined, item: T | undefined): T[] | undefined {
  if (item === undefined) return list
  const rest = (list as T[]).filter((x) => x !== item)
  return rest.length === 0 ? undefined : rest
}

function assertTopic (topic: string): void {
  if (typeof topic !== 'string' || !isTopic(topic)) throw invalidTopic(topic)
}

/** The error names the topic, cut short: a client's bad input is not echoed whole. */
function invalidTopic (topic: unknown, why?: string): Error {
  const text = String(topic)
  const shown = text.length > 64 ? `${clip(text)}…` : text
  // util.format, under @fastify/error, appends an argument past the placeholders after a space.
  return why === undefined ? new PUBSUB_ERR_INVALID_TOPIC(shown) : new PUBSUB_ERR_INVALID_TOPIC(shown, `(${why})`)
}

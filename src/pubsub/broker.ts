import { Counters, type Transport } from './counters.js'
import type { Engine, EngineCounts, HistoryPage, PublishResult, Recovery, TopicInfo, TopicPage } from './engine.js'
import {
  PUBSUB_ERR_BAD_REQUEST,
  PUBSUB_ERR_INVALID_TOPIC,
  PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS,
  PUBSUB_ERR_UNAVAILABLE
} from '../protocol/errors.js'
import { MemoryEngine } from './memory-engine.js'
import { isIdempotencyKey, MAX_KEY_LENGTH } from '../protocol/idempotency.js'
import type { Message } from './message.js'
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js'
import { Session, type SubscribeResult, type Subscriber } from './session.js'
import { hasWildcard, isPattern, isTopic, tokenCount } from '../protocol/topic.js'

/** An in-process subscriber's callback. */
export type MessageHandler = (message: Message, subscription: string | undefined) => unknown

/** The few logger methods the broker uses; pino and Fastify's logger fit. */
export interface BrokerLogger {
  error (obj: object, msg: string): void
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
  /** Counters for metrics (src/routes/metrics.ts). */
  readonly counters = new Counters()
  readonly #engine: Engine
  readonly #log: BrokerLogger | undefined
  #closed = false

  constructor (options: BrokerOptions = {}, deps: { engine?: Engine, logger?: BrokerLogger } = {}) {
    this.options = resolveBrokerOptions(options)
    this.#engine = deps.engine ?? new MemoryEngine()
    this.#engine.onFanout = (message, delivered, latencyMs) => { this.counters.fanout(message, delivered, latencyMs) }
    this.#log = deps.logger
  }

  get closed (): boolean {
    return this.#closed
  }

  /** Open, with an engine that can take work (for the Redis engine: connected). */
  get ready (): boolean {
    return !this.#closed && this.#engine.healthy()
  }

  /** Starts a session for a subscriber, such as one WebSocket connection. */
  connect (subscriber: Subscriber): BrokerSession {
    this.#assertOpen()
    return new BrokerSession(this, this.#engine, subscriber)
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
   * `undefined`, or a bad key) or PUBSUB_ERR_UNAVAILABLE (closed).
   */
  async publish (topic: string, data: unknown, { key, transport = 'app' }: PublishOptions = {}): Promise<PublishResult> {
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
    const result = await this.#engine.publish(topic, json, key)
    if (result.duplicate === true) return result
    this.counters.published[transport]++
    this.counters.hooks.published?.(topic)
    return result
  }

  /** Subscriptions, topics and patterns now (this node's, for a network engine). */
  counts (): EngineCounts {
    return this.#engine.counts()
  }

  /** A page of topics and patterns, sorted by name. */
  async topics (options: ListOptions = {}): Promise<TopicPage> {
    this.#assertOpen()
    const limit = Math.min(options.limit ?? 100, 1000)
    if (!Number.isInteger(limit) || limit < 1) throw new PUBSUB_ERR_BAD_REQUEST('limit must be an integer from 1 to 1000')
    return await this.#engine.topics({ prefix: options.prefix ?? '', limit, after: options.after })
  }

  /** One topic's figures with up to `presenceLimit` subscriber ids, or undefined when it has no subscribers and nothing retained. */
  async topic (name: string): Promise<TopicInfo | undefined> {
    this.#assertOpen()
    assertTopic(name)
    return await this.#engine.topic(name, this.options.presenceLimit)
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

  #assertOpen (): void {
    if (this.#closed) throw new PUBSUB_ERR_UNAVAILABLE('broker is closed')
  }
}

/** One subscriber's subscriptions, as returned by `broker.connect()`. */
export class BrokerSession {
  readonly #broker: Broker
  readonly #engine: Engine
  readonly #session: Session

  constructor (broker: Broker, engine: Engine, subscriber: Subscriber) {
    this.#broker = broker
    this.#engine = engine
    this.#session = new Session(subscriber)
  }

  /** Topics and patterns this session is subscribed to. */
  get subscriptions (): ReadonlySet<string> {
    return this.#session.keys
  }

  /**
   * Subscribes to a topic or pattern; idempotent. Resolves once live. With
   * `recovery`, also says whether what was missed since then can be replayed,
   * and gives it (see Engine.subscribe).
   */
  async subscribe (key: string, recovery?: Recovery): Promise<SubscribeResult> {
    this.#assertOpen()
    if (typeof key !== 'string' || !isPattern(key)) throw invalidTopic(key)
    const { maxSubscriptions, maxPatternTokens, maxSubscriptionBytes } = this.#broker.options
    if (hasWildcard(key) && tokenCount(key) > maxPatternTokens) throw invalidTopic(key, `a pattern has at most ${maxPatternTokens} tokens`)
    const session = this.#session
    if (!session.keys.has(key)) {
      if (session.keys.size >= maxSubscriptions) throw new PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS(`At most ${maxSubscriptions} subscriptions per connection`)
      if (session.keyBytes + key.length > maxSubscriptionBytes) {
        throw new PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS(`At most ${maxSubscriptionBytes} bytes of topics and patterns per connection`)
      }
    }
    return await this.#engine.subscribe(this.#session, key, recovery)
  }

  /** Ends a subscription; idempotent. No message reaches it once this resolves. */
  async unsubscribe (key: string): Promise<void> {
    this.#assertOpen()
    if (typeof key !== 'string' || !isPattern(key)) throw invalidTopic(key)
    await this.#engine.unsubscribe(this.#session, key)
  }

  /** Ends every subscription at once; idempotent. */
  close (): void {
    if (this.#session.closed) return
    this.#session.markClosed()
    if (!this.#broker.closed) this.#engine.removeSession(this.#session)
  }

  #assertOpen (): void {
    if (this.#session.closed || this.#broker.closed) throw new PUBSUB_ERR_UNAVAILABLE('session is closed')
  }
}

function assertTopic (topic: string): void {
  if (typeof topic !== 'string' || !isTopic(topic)) throw invalidTopic(topic)
}

/** The error names the topic, cut short: a client's bad input is not echoed whole. */
function invalidTopic (topic: unknown, why?: string): Error {
  const text = String(topic)
  const shown = text.length > 64 ? `${text.slice(0, 64)}…` : text
  // util.format, under @fastify/error, appends an argument past the placeholders after a space.
  return why === undefined ? new PUBSUB_ERR_INVALID_TOPIC(shown) : new PUBSUB_ERR_INVALID_TOPIC(shown, `(${why})`)
}

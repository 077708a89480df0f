import { nanoid } from 'nanoid'
import type { Engine, EngineLink, HistoryPage, LocalSubscriptions, Presence, PublishResult, Recovery, Snapshot, TopicInfo, TopicPage, TopicQuery } from './engine.js'
import { History, replayFrom } from './history.js'
import { Message } from './message.js'
import { LocalPresence } from './presence.js'
import { SortedKeys } from './sorted-keys.js'
import { limit } from './defaults.js'
import { hasWildcard } from '../protocol/topic.js'

interface TopicState {
  seq: number
  epoch: string
  /** When the last message was published, ms since the epoch; 0 for never. */
  lastPublish: number
  /** The retained messages; undefined when history is off or nothing was published. */
  history: History | undefined
  /** Messages retained at most, and for how long (ms): the topic's namespace's, else the engine's. */
  readonly historySize: number
  readonly historyTtl: number
}

export interface MemoryEngineOptions {
  /**
   * How long a topic without exact subscribers keeps its sequence after its
   * last publish, in ms (default 5 minutes). Within it, pattern subscribers
   * and repeated publishers see seq 1, 2, 3… in one epoch; after it the topic
   * is forgotten, and its sequence restarts at 1 under a new epoch.
   */
  topicTtl?: number
  /**
   * Topics remembered at most (default 100,000). Past it a publish to a new
   * topic without subscribers still goes out, under a one-off sequence (seq
   * 1, a fresh epoch) that is not kept: a client publishing to millions of
   * one-off topics cannot grow memory without bound.
   */
  maxTopics?: number
  /** Messages each topic retains for recovery (default 100; 0 turns history off). */
  historySize?: number
  /**
   * How long a retained message is kept, in ms (default 5 minutes). A topic
   * with nothing but expired messages and no subscriber is forgotten.
   */
  historyTtl?: number
  /** How long a publish's idempotency key is remembered, in ms (default 5 minutes). */
  idempotencyWindow?: number
  /**
   * Idempotency keys remembered at most (default 100,000); past it the
   * oldest is forgotten early, so that clients sending fresh keys cannot
   * grow memory without bound.
   */
  maxIdempotencyKeys?: number
}

/**
 * The default engine: one process, everything in memory. A topic is
 * remembered while it has an exact subscriber, while it retains messages, and
 * for `topicTtl` after its last publish.
 *
 * @example
 * const broker = new Broker({}, { engine: new MemoryEngine({ topicTtl: 60_000 }) })
 */
export class MemoryEngine implements Engine {
  readonly presence: Presence
  /** The broker's, once attached: publish hands each message to it, in the same call. */
  #link!: EngineLink
  readonly #presence = new LocalPresence(() => this.#link.local)
  readonly #topics = new Map<string, TopicState>()
  /** The names of #topics, sorted for listing. */
  readonly #names = new SortedKeys()
  readonly #topicTtl: number
  readonly #maxTopics: number
  readonly #historySize: number
  readonly #historyTtl: number
  readonly #idempotencyWindow: number
  readonly #maxIdempotencyKeys: number
  /** The results of keyed publishes by `topic \n key` (topics hold no newline), oldest first. */
  readonly #replies = new Map<string, { result: PublishResult, at: number }>()
  readonly #sweeper: NodeJS.Timeout
  // Epochs are this process's id plus a counter: unique, and cheap to make.
  readonly #processEpoch = nanoid(10)
  #epochs = 0

  constructor (options: MemoryEngineOptions = {}) {
    this.#topicTtl = limit('topicTtl', options.topicTtl)
    this.#maxTopics = limit('maxTopics', options.maxTopics)
    this.#historySize = limit('historySize', options.historySize)
    this.#historyTtl = limit('historyTtl', options.historyTtl)
    this.#idempotencyWindow = limit('idempotencyWindow', options.idempotencyWindow)
    this.#maxIdempotencyKeys = limit('maxIdempotencyKeys', options.maxIdempotencyKeys)
    this.#sweeper = setInterval(() => { this.#sweep() }, Math.min(this.#topicTtl, this.#historyTtl, 30_000))
    this.#sweeper.unref()
    this.presence = this.#presence
  }

  attach (link: EngineLink): void {
    this.#link = link
  }

  /** Nothing to set up: publish delivers through the broker's index at once. */
  listen (): undefined {}

  unlisten (key: string): undefined {
    if (!hasWildcard(key)) this.#forgetIfIdle(key, Date.now())
  }

  // Answered within the call (an async function runs to its first await),
  // in the broker's turn of the subscription: no publish falls between the
  // replay and the live messages.
  async snapshot (topic: string, recovery?: Recovery): Promise<Snapshot> {
    const state = this.#topicState(topic)
    const snapshot: Snapshot = { seq: state.seq, epoch: state.epoch }
    if (recovery !== undefined) {
      snapshot.replay = replayFrom(topic, state, recovery, () => {
        state.history?.expire(Date.now() - state.historyTtl)
        return state.history?.after(0) ?? []
      })
    }
    return snapshot
  }

  async history (topic: string, since: number, limit: number): Promise<HistoryPage | undefined> {
    const state = this.#topics.get(topic)
    if (state === undefined || (this.#local.count(topic) === 0 && !this.#retains(state))) return undefined
    const messages = (state.history?.after(since, limit) ?? []).map((m) => new Message(topic, m.seq, state.epoch, m.ts, m.json))
    return { topic, seq: state.seq, epoch: state.epoch, first: state.history?.first, messages }
  }

  async publish (topic: string, json: string, key?: string): Promise<PublishResult> {
    if (key === undefined) return this.#publish(topic, json)
    const id = `${topic}\n${key}`
    const now = Date.now()
    this.#forgetReplies(now - this.#idempotencyWindow)
    const first = this.#replies.get(id)
    if (first !== undefined) return { ...first.result, duplicate: true }
    const result = this.#publish(topic, json)
    if (this.#replies.size >= this.#maxIdempotencyKeys) this.#replies.delete(this.#replies.keys().next().value as string)
    this.#replies.set(id, { result: { ...result }, at: now })
    return result
  }

  /** Keys are remembered in publish order, so the expired ones are at the front. */
  #forgetReplies (before: number): void {
    for (const [id, { at }] of this.#replies) {
      if (at >= before) return
      this.#replies.delete(id)
    }
  }

  #publish (topic: string, json: string): PublishResult {
    const state = this.#topics.get(topic) ?? (this.#topics.size < this.#maxTopics ? this.#topicState(topic) : this.#newState(topic))
    const seq = ++state.seq
    const ts = Date.now()
    state.lastPublish = ts
    if (state.historySize > 0) (state.history ??= new History(state.historySize)).push({ seq, ts, json })
    const message = new Message(topic, seq, state.epoch, ts, json)
    const delivered = this.#link.deliver(message)
    return { topic, seq, epoch: state.epoch, delivered }
  }

  async topics (query: TopicQuery): Promise<TopicPage> {
    const page: TopicPage = { topics: [], patterns: [] }
    const topicNames = this.#listed(query)
    const patternNames = this.#link.local.patternNames.from(query.prefix, query.after)
    let topic = topicNames.next()
    let pattern = patternNames.next()
    let last = ''
    // Merge the two sorted lists; a name is never both a topic and a pattern.
    while (!topic.done || !pattern.done) {
      if (page.topics.length + page.patterns.length === query.limit) {
        page.next = last
        break
      }
      if (!topic.done && (pattern.done || topic.value < pattern.value)) {
        last = topic.value
        page.topics.push(this.#info(last))
        topic = topicNames.next()
      } else {
        last = pattern.value as string
        page.patterns.push({ pattern: last, subscribers: this.#local.count(last) })
        pattern = patternNames.next()
      }
    }
    return page
  }

  async topic (name: string, presence: number): Promise<TopicInfo | undefined> {
    const state = this.#topics.get(name)
    if (state === undefined || (this.#local.count(name) === 0 && !this.#retains(state))) return undefined
    const info = this.#info(name)
    info.clients = (await this.#presence.subscribers(name, presence)).clients
    return info
  }

  /** JSON bytes retained by every topic's history: a sum at each call, for metrics scrapes. */
  historyBytes (): number {
    let bytes = 0
    for (const state of this.#topics.values()) bytes += state.history?.bytes ?? 0
    return bytes
  }

  healthy (): boolean {
    return true
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    this.#replies.clear()
    this.#topics.clear()
    this.#names.clear()
  }

  /** Topic names to list: those with an exact subscriber or retained messages. */
  * #listed (query: TopicQuery): Generator<string> {
    for (const name of this.#names.from(query.prefix, query.after)) {
      if (this.#local.count(name) > 0 || this.#retains(this.#topics.get(name) as TopicState)) yield name
    }
  }

  #retains (state: TopicState): boolean {
    const history = state.history
    if (history === undefined) return false
    history.expire(Date.now() - state.historyTtl)
    return history.size > 0
  }

  #info (name: string): TopicInfo {
    const state = this.#topics.get(name) as TopicState
    return { topic: name, subscribers: this.#local.count(name), seq: state.seq, epoch: state.epoch }
  }

  #topicState (topic: string): TopicState {
    let state = this.#topics.get(topic)
    if (state === undefined) {
      state = this.#newState(topic)
      this.#topics.set(topic, state)
      this.#names.add(topic)
    }
    return state
  }

  /** A topic's history settings are fixed here, once per topic state: its namespace's where they are set. */
  #newState (topic: string): TopicState {
    const namespace = this.#link.namespaces?.resolve(topic)
    return {
      seq: 0,
      epoch: `${this.#processEpoch}-${(++this.#epochs).toString(36)}`,
      lastPublish: 0,
      history: undefined,
      historySize: namespace?.historySize ?? this.#historySize,
      historyTtl: namespace?.historyTtl ?? this.#historyTtl
    }
  }

  get #local (): LocalSubscriptions {
    return this.#link.local
  }

  #forgetIfIdle (topic: string, now: number): void {
    const state = this.#topics.get(topic)
    if (state === undefined || now - state.lastPublish < this.#topicTtl || this.#local.count(topic) > 0 || this.#retains(state)) return
    this.#topics.delete(topic)
    this.#names.delete(topic)
  }

  #sweep (): void {
    const now = Date.now()
    for (const topic of this.#topics.keys()) this.#forgetIfIdle(topic, now)
  }
}

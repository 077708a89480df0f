import { nanoid } from 'nanoid'
import type { Engine, EngineCounts, PublishResult, TopicInfo, TopicPage, TopicQuery } from './engine.js'
import { Message } from './message.js'
import type { Session, SubscribeResult } from './session.js'
import { SubscriptionIndex } from './subscription-index.js'
import { MAX_INT32, positiveInteger } from './options.js'
import { hasWildcard } from './topic.js'

interface TopicState {
  seq: number
  epoch: string
  /** When the last message was published, ms since the epoch; 0 for never. */
  lastPublish: number
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
}

/**
 * The default engine: one process, everything in memory. A topic is
 * remembered while it has an exact subscriber, and for `topicTtl` after its
 * last publish.
 *
 * @example
 * const broker = new Broker({}, { engine: new MemoryEngine({ topicTtl: 60_000 }) })
 */
export class MemoryEngine implements Engine {
  readonly #index = new SubscriptionIndex()
  readonly #topics = new Map<string, TopicState>()
  readonly #topicTtl: number
  readonly #maxTopics: number
  readonly #sweeper: NodeJS.Timeout
  // Epochs are this process's id plus a counter: unique, and cheap to make.
  readonly #processEpoch = nanoid(10)
  #epochs = 0

  constructor (options: MemoryEngineOptions = {}) {
    this.#topicTtl = options.topicTtl ?? 5 * 60_000
    positiveInteger('topicTtl', this.#topicTtl, 1, MAX_INT32)
    this.#maxTopics = options.maxTopics ?? 100_000
    positiveInteger('maxTopics', this.#maxTopics)
    this.#sweeper = setInterval(() => { this.#sweep() }, Math.min(this.#topicTtl, 30_000))
    this.#sweeper.unref()
  }

  async subscribe (session: Session, key: string): Promise<SubscribeResult> {
    this.#index.add(session, key)
    if (hasWildcard(key)) return { topic: key }
    const state = this.#topicState(key)
    return { topic: key, seq: state.seq, epoch: state.epoch }
  }

  async unsubscribe (session: Session, key: string): Promise<void> {
    this.#remove(session, key)
  }

  removeSession (session: Session): void {
    for (const key of session.keys) this.#remove(session, key)
  }

  async publish (topic: string, json: string): Promise<PublishResult> {
    const state = this.#topics.get(topic) ?? (this.#topics.size < this.#maxTopics ? this.#topicState(topic) : this.#newState())
    const seq = ++state.seq
    const ts = Date.now()
    state.lastPublish = ts
    const delivered = this.#index.deliver(new Message(topic, seq, state.epoch, ts, json))
    return { topic, seq, epoch: state.epoch, delivered }
  }

  async topics (query: TopicQuery): Promise<TopicPage> {
    const page: TopicPage = { topics: [], patterns: [] }
    const topicNames = this.#index.topicNames.from(query.prefix, query.after)
    const patternNames = this.#index.patternNames.from(query.prefix, query.after)
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
        page.patterns.push({ pattern: last, subscribers: this.#index.count(last) })
        pattern = patternNames.next()
      }
    }
    return page
  }

  async topic (name: string): Promise<TopicInfo | undefined> {
    // Only topics with subscribers are listed, so only they are found.
    return this.#index.count(name) > 0 ? this.#info(name) : undefined
  }

  counts (): EngineCounts {
    return this.#index.counts
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    this.#topics.clear()
  }

  #info (name: string): TopicInfo {
    const state = this.#topics.get(name) as TopicState
    return { topic: name, subscribers: this.#index.count(name), seq: state.seq, epoch: state.epoch }
  }

  #topicState (topic: string): TopicState {
    let state = this.#topics.get(topic)
    if (state === undefined) {
      state = this.#newState()
      this.#topics.set(topic, state)
    }
    return state
  }

  #newState (): TopicState {
    return { seq: 0, epoch: `${this.#processEpoch}-${(++this.#epochs).toString(36)}`, lastPublish: 0 }
  }

  #remove (session: Session, key: string): void {
    if (this.#index.remove(session, key) && !hasWildcard(key)) this.#forgetIfIdle(key, Date.now())
  }

  #forgetIfIdle (topic: string, now: number): void {
    const state = this.#topics.get(topic)
    if (state !== undefined && now - state.lastPublish >= this.#topicTtl && this.#index.count(topic) === 0) this.#topics.delete(topic)
  }

  #sweep (): void {
    const now = Date.now()
    for (const topic of this.#topics.keys()) this.#forgetIfIdle(topic, now)
  }
}

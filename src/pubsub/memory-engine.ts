import { nanoid } from 'nanoid'
import type { Engine, PublishResult, TopicInfo, TopicPage, TopicQuery } from './engine.js'
import { Message } from './message.js'
import type { Session, SubscribeResult } from './session.js'
import { SubscriptionIndex } from './subscription-index.js'
import { hasWildcard } from './topic.js'

interface TopicState {
  seq: number
  epoch: string
}

/**
 * The default engine: one process, everything in memory. A topic is
 * remembered while it has an exact subscriber; once forgotten, its sequence
 * restarts at 1 under a new epoch.
 */
export class MemoryEngine implements Engine {
  readonly #index = new SubscriptionIndex()
  readonly #topics = new Map<string, TopicState>()
  // Epochs are this process's id plus a counter: unique, and cheap to make.
  readonly #processEpoch = nanoid(10)
  #epochs = 0

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
    // A topic nobody subscribes to exactly gets a one-off state: not kept.
    const state = this.#topics.get(topic) ?? this.#newState()
    const seq = ++state.seq
    const delivered = this.#index.deliver(new Message(topic, seq, state.epoch, Date.now(), json))
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
    return this.#topics.has(name) ? this.#info(name) : undefined
  }

  async close (): Promise<void> {
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
    return { seq: 0, epoch: `${this.#processEpoch}-${(++this.#epochs).toString(36)}` }
  }

  #remove (session: Session, key: string): void {
    if (this.#index.remove(session, key) && !hasWildcard(key)) this.#topics.delete(key)
  }
}

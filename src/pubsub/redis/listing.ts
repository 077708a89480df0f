import type { HistoryPage, PatternInfo, TopicInfo, TopicPage, TopicQuery } from '../engine.js'
import type { Retained } from '../history.js'
import { Message } from '../message.js'
import { hasWildcard } from '../../protocol/topic.js'
import type { RedisPresence } from './presence.js'

/** What the listing routes read of a Redis engine, one Redis or a cluster. */
export interface ListingSource {
  readonly presence: RedisPresence
  /** Topics whose last message is still retained. */
  retainedTopics: () => Promise<Set<string>>
  isRetained: (topic: string) => Promise<boolean>
  /** Each topic's seq and epoch ({ seq: 0, epoch: '' } for one whose meta is gone). */
  metas: (topics: string[]) => Promise<Map<string, { seq: number, epoch: string }>>
  /** A topic's seq, epoch and history entries. */
  snapshot: (topic: string) => Promise<[number, string, string[]]>
  retained: (topic: string, entries: string[]) => Retained[]
}

/** `GET /topics`: every node's subscriptions and the retained topics, by name, a page at a time. */
export async function topicPage (source: ListingSource, query: TopicQuery): Promise<TopicPage> {
  const [counts, retained] = await Promise.all([source.presence.counts(), source.retainedTopics()])
  const names = new Set([...counts.keys(), ...retained])
  const sorted = [...names].filter((name) => name.startsWith(query.prefix) && (query.after === undefined || name > query.after)).sort()
  const page: TopicPage = { topics: [], patterns: [] }
  const taken = sorted.slice(0, query.limit)
  const metas = await source.metas(taken.filter((name) => !hasWildcard(name)))
  for (const name of taken) {
    const subscribers = counts.get(name) ?? 0
    const meta = metas.get(name)
    if (meta === undefined) page.patterns.push({ pattern: name, subscribers } satisfies PatternInfo)
    else page.topics.push({ topic: name, subscribers, seq: meta.seq, epoch: meta.epoch })
  }
  if (sorted.length > query.limit) page.next = taken.at(-1)
  return page
}

/** `GET /topics/:topic`: undefined when it has no subscriber and nothing retained. */
export async function topicInfo (source: ListingSource, name: string, presence: number): Promise<TopicInfo | undefined> {
  const [{ count, clients }, retained] = await Promise.all([source.presence.subscribers(name, presence), source.isRetained(name)])
  if (count === 0 && !retained) return undefined
  const meta = (await source.metas([name])).get(name) as { seq: number, epoch: string }
  return { topic: name, subscribers: count, seq: meta.seq, epoch: meta.epoch, clients }
}

/** `GET /topics/:topic/history`: the retained messages after `since`, at most `limit`. */
export async function historyPage (source: ListingSource, topic: string, since: number, limit: number): Promise<HistoryPage | undefined> {
  if ((await topicInfo(source, topic, 0)) === undefined) return undefined
  const [seq, epoch, entries] = await source.snapshot(topic)
  const retained = source.retained(topic, entries)
  const messages = retained.filter((m) => m.seq > since).slice(0, limit).map((m) => new Message(topic, m.seq, epoch, m.ts, m.json))
  return { topic, seq, epoch, first: retained[0]?.seq, messages }
}

import type { HistoryPage, PatternInfo, TopicInfo, TopicPage, TopicQuery } from '../engine.js'
import type { Retained } from '../history.js'
import { Message } from '../message.js'
import { hasWildcard } from '../../protocol/topic.js'
import type { RedisPresence } from './presence.js'
import type { RetainedIndex } from './retained-index.js'

/** A ZRANGEBYLEX range: names after a cursor (or from a prefix) that start with the prefix. */
export interface LexRange {
  min: string
  max: string
}

/** What the listing routes read of a Redis engine, one Redis or a cluster. */
export interface ListingSource {
  readonly presence: RedisPresence
  readonly index: RetainedIndex
  /** Each topic's seq and epoch ({ seq: 0, epoch: '' } for one whose meta is gone). */
  metas: (topics: string[]) => Promise<Map<string, { seq: number, epoch: string }>>
  /** A topic's seq, epoch and history entries. */
  snapshot: (topic: string) => Promise<[number, string, string[]]>
  retained: (topic: string, entries: string[]) => Retained[]
}

/** The names after `after` (when given) that start with `prefix`. */
export function lexRange (prefix: string, after: string | undefined): LexRange {
  const min = after !== undefined && after >= prefix ? `(${after}` : prefix === '' ? '-' : `[${prefix}`
  // Topics are ASCII (protocol/topic.ts), so that Redis's byte order is
  // JavaScript's, and every name with the prefix sorts before U+00FF's UTF-8.
  return { min, max: prefix === '' ? '+' : `[${prefix}\u00ff` }
}

/** The first `count` of several lists of names, merged in order without repeats. */
export function mergeNames (lists: string[][], count: number): string[] {
  return [...new Set(lists.flat())].sort().slice(0, count)
}

/**
 * `GET /topics`: the names subscribed to on some node or retained, a page at
 * a time. Each round reads the next names of both indexes (ZRANGEBYLEX, a
 * page's worth), then their figures; names that turn out to be neither
 * (a last subscriber gone, history expired) are pruned from the indexes and
 * the round goes on after them. So a page costs about its own size, not the
 * number of topics.
 */
export async function topicPage (source: ListingSource, query: TopicQuery): Promise<TopicPage> {
  const listed: Array<[string, number]> = []
  let after = query.after
  // One name past the page tells whether there is a next one.
  while (listed.length <= query.limit) {
    const want = query.limit + 1 - listed.length
    const range = lexRange(query.prefix, after)
    const [subscribed, retainedNames] = await Promise.all([source.presence.names(range, want), source.index.names(range, want)])
    const names = mergeNames([subscribed, retainedNames], want)
    if (names.length === 0) break
    const [counts, retained] = await Promise.all([source.presence.countsOf(names), source.index.retainedOf(names.filter((name) => !hasWildcard(name)))])
    const gone: string[] = []
    for (const name of names) {
      const subscribers = counts.get(name) as number
      if (subscribers > 0 || retained.has(name)) listed.push([name, subscribers])
      else gone.push(name)
    }
    if (gone.length > 0) await Promise.all([source.presence.prune(gone), source.index.prune(gone.filter((name) => !hasWildcard(name)))])
    // Both indexes gave fewer than asked: nothing is left after these.
    if (subscribed.length < want && retainedNames.length < want) break
    after = names.at(-1)
  }
  const page: TopicPage = { topics: [], patterns: [] }
  const taken = listed.slice(0, query.limit)
  const metas = await source.metas(taken.map(([name]) => name).filter((name) => !hasWildcard(name)))
  for (const [name, subscribers] of taken) {
    const meta = metas.get(name)
    if (meta === undefined) page.patterns.push({ pattern: name, subscribers } satisfies PatternInfo)
    else page.topics.push({ topic: name, subscribers, seq: meta.seq, epoch: meta.epoch })
  }
  if (listed.length > query.limit) page.next = taken.at(-1)?.[0]
  return page
}

/** `GET /topics/:topic`: undefined when it has no subscriber and nothing retained. */
export async function topicInfo (source: ListingSource, name: string, presence: number): Promise<TopicInfo | undefined> {
  const [{ count, clients }, retained] = await Promise.all([source.presence.subscribers(name, presence), source.index.retainedOf([name])])
  if (count === 0 && !retained.has(name)) return undefined
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

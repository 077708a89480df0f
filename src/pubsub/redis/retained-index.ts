import type { Cluster, Redis } from 'ioredis'
import { mergeNames, type LexRange } from './listing.js'
import type { PubsubScripts, RedisCall } from './scripts.js'

export interface RetainedIndexOptions {
  command: (Redis | Cluster) & PubsubScripts
  call: RedisCall
  /** How many indexes there are: 1 on one Redis, a cluster's slot groups. */
  groups: number
  groupOf: (topic: string) => number
  /** A group's keys: `retained` (zset by last publish time), `names` (zset in byte order). */
  keys: (group: number) => { retained: string, names: string }
  /** A topic's historyTtl (ms): its namespace's or the engine's. */
  ttlOf: (topic: string) => number
}

/**
 * The topics whose last message may still be retained, as the publish
 * script keeps them (scripts.ts): by last publish time, to trim and test,
 * and by name, to list a page without reading them all. Names stay until a
 * listing finds them expired and prunes them.
 */
export class RetainedIndex {
  readonly #options: RetainedIndexOptions

  constructor (options: RetainedIndexOptions) {
    this.#options = options
  }

  /** Up to `count` names in `range`, merged over every group in byte order; some may retain nothing any more. */
  async names (range: LexRange, count: number): Promise<string[]> {
    const { command, call, groups, keys } = this.#options
    const lists = await Promise.all(Array.from({ length: groups }, async (_, group) => await call(async () =>
      await command.zrangebylex(keys(group).names, range.min, range.max, 'LIMIT', 0, count))))
    return mergeNames(lists, count)
  }

  /** Those of `topics` whose last message is within their historyTtl. */
  async retainedOf (topics: string[]): Promise<Set<string>> {
    const { command, call, groupOf, keys, ttlOf } = this.#options
    const now = Date.now()
    const scores = await Promise.all(topics.map(async (topic) => await call(async () => await command.zscore(keys(groupOf(topic)).retained, topic))))
    return new Set(topics.filter((topic, i) => scores[i] !== null && Number(scores[i]) >= now - ttlOf(topic)))
  }

  /** Drops `topics` from both indexes where they retain nothing (checked again inside Redis). */
  async prune (topics: string[]): Promise<void> {
    const { command, call, groupOf, keys, ttlOf } = this.#options
    const now = Date.now()
    const byGroup = new Map<number, Array<string | number>>()
    for (const topic of topics) {
      const group = groupOf(topic)
      const args = byGroup.get(group) ?? []
      args.push(topic, now - ttlOf(topic))
      byGroup.set(group, args)
    }
    await Promise.all([...byGroup].map(async ([group, args]) => await call(async () =>
      await command.pubsubPruneRetained(keys(group).retained, keys(group).names, ...args))))
  }
}

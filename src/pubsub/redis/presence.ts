import type { ChainableCommander, Cluster, Redis } from 'ioredis'
import type { LocalSubscriptions, Presence } from '../engine.js'
import type { LexRange } from './listing.js'
import { exec, type PubsubScripts, type RedisCall } from './scripts.js'

/** Client ids stored per topic per node for presence. */
export const PRESENCE_IDS = 100

export interface RedisPresenceOptions {
  command: (Redis | Cluster) & PubsubScripts
  /** `<prefix><kind>` or `<prefix><kind>:<name>`, the engine's key names. */
  key: (kind: string, name?: string) => string
  nodeId: string
  /** ms between refreshes: a node's figures expire after three (it crashed). */
  heartbeat: number
  call: RedisCall
  /** The broker's subscriptions on this node, once attached. */
  local: () => LocalSubscriptions
  /** Client ids stored for a key, at most: PRESENCE_IDS, or 0 where its namespace has presence: false. */
  ids: (key: string) => number
}

/**
 * Presence across nodes (centrifuge's presence_redis.go): each node keeps a
 * hash `presence:<node>` of its keys (topic or pattern → its count and some
 * client ids), rewritten on every change and, with a TTL, every heartbeat;
 * `nodes` lists the nodes by last heartbeat, and a reader sums the live ones.
 * `present` indexes the names of every node's hash in byte order, so that
 * a listing reads one page of names, not every node's whole hash.
 */
export class RedisPresence implements Presence {
  readonly #command: (Redis | Cluster) & PubsubScripts
  readonly #key: RedisPresenceOptions['key']
  readonly #nodeId: string
  readonly #heartbeat: number
  readonly #call: RedisCall
  readonly #local: () => LocalSubscriptions
  readonly #ids: (key: string) => number

  constructor (options: RedisPresenceOptions) {
    this.#command = options.command
    this.#key = options.key
    this.#nodeId = options.nodeId
    this.#heartbeat = options.heartbeat
    this.#call = options.call
    this.#local = options.local
    this.#ids = options.ids
  }

  // Presence is rewritten on every change (other sessions may remain).
  changed (key: string): void {
    void this.#write(key)
  }

  async subscribers (key: string, limit: number): Promise<{ count: number, clients: string[] }> {
    const entry = (await this.#figuresOf([key])).get(key)
    return { count: entry?.count ?? 0, clients: (entry?.clients ?? []).slice(0, limit) }
  }

  /** Cluster-wide subscriber counts of `names` (0 for one nobody subscribes to): one field per name of each live node's hash. */
  async countsOf (names: string[]): Promise<Map<string, number>> {
    const figures = await this.#figuresOf(names)
    return new Map(names.map((name) => [name, figures.get(name)?.count ?? 0]))
  }

  /**
   * Up to `count` names subscribed to somewhere, after `range`'s start, in
   * byte order: from the `present` index, which nodes add to and readers
   * prune (`prune`), so it may hold names nobody subscribes to any more.
   */
  async names (range: LexRange, count: number): Promise<string[]> {
    return await this.#call(async () => await this.#command.zrangebylex(this.#key('present'), range.min, range.max, 'LIMIT', 0, count))
  }

  /** Drops from the index those of `names` that no live node's hash has (checked again inside Redis, atomically with the nodes' writes). */
  async prune (names: string[]): Promise<void> {
    const hashes = (await this.#liveNodes()).map((node) => this.#key('presence', node))
    await this.#call(async () => await this.#command.pubsubPrunePresent(1 + hashes.length, this.#key('present'), ...hashes, ...names))
  }

  /** Counts and client ids of `names` summed over every live node's hash. */
  async #figuresOf (names: string[]): Promise<Map<string, { count: number, clients: string[] }>> {
    const nodes = await this.#liveNodes()
    const pipeline = this.#command.pipeline()
    for (const node of nodes) pipeline.hmget(this.#key('presence', node), ...names)
    const figures = new Map<string, { count: number, clients: string[] }>()
    for (const values of await exec(pipeline, this.#call) as Array<Array<string | null>>) {
      values.forEach((value, i) => {
        if (value === null) return
        // [count, ...client ids] (a sub may hold any character)
        const [count, ...clients] = JSON.parse(value) as [number, ...string[]]
        const name = names[i] as string
        const entry = figures.get(name)
        if (entry === undefined) figures.set(name, { count, clients })
        else {
          entry.count += count
          entry.clients.push(...clients)
        }
      })
    }
    return figures
  }

  /** The nodes that refreshed their presence within three heartbeats. */
  async #liveNodes (): Promise<string[]> {
    return await this.#call(async () => await this.#command.zrangebyscore(this.#key('nodes'), Date.now() - 3 * this.#heartbeat, '+inf'))
  }

  /** Adds to a heartbeat's transaction: this node's whole hash again, with a TTL, and the node's heartbeat. */
  refresh (multi: ChainableCommander): void {
    const hash = this.#key('presence', this.#nodeId)
    multi.del(hash)
    const local = this.#local()
    const fields: string[] = []
    const scored: Array<string | number> = []
    for (const names of [local.topicNames, local.patternNames]) {
      for (const key of names.from('', undefined)) {
        fields.push(key, this.#value(key))
        scored.push(0, key)
      }
    }
    if (fields.length > 0) {
      multi.hset(hash, ...fields)
      // Back in the index, should a reader have pruned it meanwhile (a node whose hash had expired).
      multi.zadd(this.#key('present'), ...scored)
    }
    multi.pexpire(hash, 3 * this.#heartbeat).zadd(this.#key('nodes'), Date.now(), this.#nodeId)
    multi.zremrangebyscore(this.#key('nodes'), '-inf', Date.now() - 3 * this.#heartbeat)
  }

  /** Takes this node out of the figures (on close). */
  async leave (): Promise<void> {
    await this.#command.multi().del(this.#key('presence', this.#nodeId)).zrem(this.#key('nodes'), this.#nodeId).exec()
  }

  /** This node's figure for one key, as other nodes read it. */
  #value (key: string): string {
    const local = this.#local()
    return JSON.stringify([local.count(key), ...local.clientIds(key, this.#ids(key))])
  }

  async #write (key: string): Promise<void> {
    try {
      const hash = this.#key('presence', this.#nodeId)
      if (this.#local().count(key) > 0) {
        // The node is listed too: its subscribers count before its first heartbeat.
        await this.#command.multi().hset(hash, key, this.#value(key)).pexpire(hash, 3 * this.#heartbeat)
          .zadd(this.#key('nodes'), Date.now(), this.#nodeId).zadd(this.#key('present'), 0, key).exec()
      } else {
        await this.#command.hdel(hash, key)
      }
    } catch {
      // Redis is away; the next heartbeat rewrites the whole hash.
    }
  }
}

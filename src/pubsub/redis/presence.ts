import type { ChainableCommander, Cluster, Redis } from 'ioredis'
import type { LocalSubscriptions, Presence } from '../engine.js'
import { exec, type RedisCall } from './scripts.js'

/** Client ids stored per topic per node for presence. */
export const PRESENCE_IDS = 100

export interface RedisPresenceOptions {
  command: Redis | Cluster
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
 */
export class RedisPresence implements Presence {
  readonly #command: Redis | Cluster
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
    const entry = (await this.figures()).get(key)
    return { count: entry?.count ?? 0, clients: (entry?.clients ?? []).slice(0, limit) }
  }

  async counts (): Promise<Map<string, number>> {
    return new Map([...await this.figures()].map(([key, { count }]) => [key, count]))
  }

  /** Cluster-wide subscriber counts and client ids of every key, from every live node's hash. */
  async figures (): Promise<Map<string, { count: number, clients: string[] }>> {
    const nodes = await this.#call(async () => await this.#command.zrangebyscore(this.#key('nodes'), Date.now() - 3 * this.#heartbeat, '+inf'))
    const pipeline = this.#command.pipeline()
    for (const node of nodes) pipeline.hgetall(this.#key('presence', node))
    const counts = new Map<string, { count: number, clients: string[] }>()
    for (const hash of await exec(pipeline, this.#call) as Array<Record<string, string>>) {
      for (const [name, value] of Object.entries(hash)) {
        // [count, ...client ids] (a sub may hold any character)
        const [count, ...clients] = JSON.parse(value) as [number, ...string[]]
        const entry = counts.get(name) ?? { count: 0, clients: [] }
        entry.count += count
        entry.clients.push(...clients)
        counts.set(name, entry)
      }
    }
    return counts
  }

  /** Adds to a heartbeat's transaction: this node's whole hash again, with a TTL, and the node's heartbeat. */
  refresh (multi: ChainableCommander): void {
    const hash = this.#key('presence', this.#nodeId)
    multi.del(hash)
    const local = this.#local()
    const fields: string[] = []
    for (const names of [local.topicNames, local.patternNames]) {
      for (const key of names.from('', undefined)) fields.push(key, this.#value(key))
    }
    if (fields.length > 0) multi.hset(hash, ...fields)
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
          .zadd(this.#key('nodes'), Date.now(), this.#nodeId).exec()
      } else {
        await this.#command.hdel(hash, key)
      }
    } catch {
      // Redis is away; the next heartbeat rewrites the whole hash.
    }
  }
}

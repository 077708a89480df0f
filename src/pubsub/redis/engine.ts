import type { Redis, RedisOptions } from 'ioredis'
import { nanoid } from 'nanoid'
import type { Engine, EngineLink, HistoryPage, LocalSubscriptions, PublishResult, Recovery, Snapshot, TopicInfo, TopicPage, TopicQuery } from '../engine.js'
import { PUBSUB_ERR_OPTION, PUBSUB_ERR_UNAVAILABLE } from '../../protocol/errors.js'
import { KEY_PREFIX, limit } from '../defaults.js'
import { replayFrom, type Retained } from '../history.js'
import type { Namespaces } from '../namespaces.js'
import { historyPage, topicInfo, topicPage, type ListingSource } from './listing.js'
import { RetainedIndex } from './retained-index.js'
import { batchArguments, PublishBatches, replied } from './publish-batch.js'
import { Continuity } from './continuity.js'
import { decodeMessage, decodeRetained } from './codec.js'
import { PRESENCE_IDS, RedisPresence } from './presence.js'
import { SubscriptionProbe } from './probe.js'
import { exec, scripted, type ScriptedRedis } from './scripts.js'
import { connector, type RedisTarget } from './connection.js'
import { PrimaryIdentity, primaryChangeOf } from './primary.js'
import { NOT_CONNECTED, Reachability, type ReachabilityLogger } from './reachability.js'
import { hasWildcard } from '../../protocol/topic.js'

/** What a topic's sequence does when the engine finds itself on another primary (RedisEngineOptions.primaryChange). */
export type PrimaryChange = 'new-epoch' | 'continue'

export interface RedisEngineOptions extends RedisTarget {
  /**
   * When the engine's connection lands on another primary (a failover, a
   * restart: a new replication id), each topic's next use starts a new
   * epoch, since that primary may lack the last seqs clients saw
   * ('new-epoch', the default with `sentinels`), or its sequence goes on
   * ('continue', the default with `url`: right for a Redis whose AOF keeps
   * every write). docs/scaling.md has the failure table.
   */
  primaryChange?: PrimaryChange
  /** Prefix of every key and channel, so that several deployments share a Redis (default `pubsub:`). */
  keyPrefix?: string
  /** ms a Redis command may take before the request fails with UNAVAILABLE (default 1000). */
  timeout?: number
  /** Messages each topic retains (default 100; 0 turns history off). */
  historySize?: number
  /** ms a retained message is kept (default 5 minutes). */
  historyTtl?: number
  /** ms a topic keeps its sequence after its last publish when no node has an exact subscriber (default 5 minutes). */
  topicTtl?: number
  /** ms a publish's idempotency key is remembered, by Redis for every node (default 5 minutes). */
  idempotencyWindow?: number
  /**
   * ms between a node's presence refreshes and subscription probes (default
   * 5000). A node that stops refreshing (crashed) drops out of the figures
   * after three intervals.
   */
  heartbeat?: number
  /** Logs Redis going away and coming back, and lost probes; pino and Fastify's logger fit. */
  logger?: ReachabilityLogger
}

/** A Redis channel or glob this node listens on, and the local keys that need it. */
interface Listening {
  glob: boolean
  keys: Set<string>
  live: boolean
  chain: Promise<void>
}

/** ms between "Redis still unreachable" summaries while Redis is away. */
const SUMMARY_MS = 30_000
/** What a 503 says when Redis answered a command with an error, or too late. */
const FAILED = 'the Redis engine did not complete the request'

/**
 * The engine for several nodes: seq, epoch and history live in Redis (one
 * Lua script assigns the seq, appends to the history and PUBLISHes, so every
 * node agrees); each node keeps one Redis subscription per exact topic and
 * one per pattern prefix, whatever its number of local subscribers, and
 * hands what arrives to the broker, which fans out to its sessions.
 *
 * Commands fail fast while Redis is away (no offline queue, a timeout on
 * each), so a publish answers UNAVAILABLE within `timeout` instead of
 * hanging; ioredis reconnects and resubscribes by itself when Redis is back.
 */
export class RedisEngine implements Engine {
  readonly nodeId = nanoid(10)
  readonly presence: RedisPresence
  /** What the listing routes read (listing.ts). */
  readonly #listing: ListingSource
  /** The broker's, once attached: where arriving messages and resets go. */
  #link: EngineLink | undefined
  readonly #probe: SubscriptionProbe
  readonly #command: ScriptedRedis
  /** The publishes of a turn, one script call for them all (publish-batch.ts). */
  readonly #batches = new PublishBatches<undefined>(async (_, batch) => await this.#command.pubsubPublishBatch(...batchArguments({
    retained: this.#key('retained'),
    names: this.#key('names'),
    args: [Date.now(), this.#metaTtl, this.#longestHistoryTtl, `${this.#key('m')}:`, '', `${this.#newEpoch()}.`]
  }, batch)))

  readonly #subscriber: Redis
  /** The command connection's primary, when primaryChange is 'new-epoch'. */
  readonly #primary: PrimaryIdentity | undefined
  readonly #prefix: string
  readonly #historySize: number
  readonly #historyTtl: number
  readonly #topicTtl: number
  /** How long a topic's seq and epoch outlive its last use: past its topicTtl and every history ttl. Set in attach. */
  #metaTtl: number
  /** The longest history ttl of any topic (the engine's or a namespace's): the retained index keeps entries that long. */
  #longestHistoryTtl: number
  /** The broker's namespaces, once attached; undefined when there are none. */
  #namespaces: Namespaces | undefined
  readonly #idempotencyWindow: number
  readonly #heartbeatMs: number
  readonly #log: RedisEngineOptions['logger']
  readonly #reachability: Reachability
  readonly #listening = new Map<string, Listening>()
  readonly #heartbeat: NodeJS.Timeout
  /**
   * Where this node's delivery of each topic with a local exact subscriber
   * has got to, and the catch-ups from history when messages never came.
   */
  readonly #continuity = new Continuity({
    snapshot: async (topic) => await this.#snapshot(topic, true),
    retained: (topic, entries) => this.#retained(topic, entries),
    deliver: (message) => { this.#linked.deliver(message) },
    reset: (topic, position) => { this.#linked.reset(topic, position) }
  })

  /** The subscriber connection was subscribed before: its next `ready` is a reconnect. */
  #subscribedBefore = false
  #epochs = 0
  // Redis sends one PUBLISH to a subscriber as consecutive replies, one per
  // matching channel and pattern: a repeat of the last one is a duplicate.
  #lastTopic = ''
  #lastSeq = 0
  #lastEpoch = ''
  #closed = false

  constructor (options: RedisEngineOptions) {
    this.#prefix = options.keyPrefix ?? KEY_PREFIX.default
    // A glob character would let this node's PSUBSCRIBE match another deployment's channels.
    if (typeof this.#prefix !== 'string' || !new RegExp(KEY_PREFIX.pattern).test(this.#prefix)) {
      throw new PUBSUB_ERR_OPTION('keyPrefix', this.#prefix, KEY_PREFIX.allowed)
    }
    const timeout = limit('redisTimeout', options.timeout, 'timeout')
    this.#historySize = limit('historySize', options.historySize)
    this.#historyTtl = limit('historyTtl', options.historyTtl)
    this.#topicTtl = limit('topicTtl', options.topicTtl)
    this.#longestHistoryTtl = this.#historyTtl
    this.#metaTtl = Math.max(this.#topicTtl, this.#historyTtl)
    this.#idempotencyWindow = limit('idempotencyWindow', options.idempotencyWindow)
    this.#heartbeatMs = limit('redisHeartbeat', options.heartbeat, 'heartbeat')
    this.#log = options.logger
    this.#reachability = new Reachability(options.logger, SUMMARY_MS)
    const redisOptions: RedisOptions = {
      // Fail fast: ioredis would otherwise queue commands while offline and
      // hold a publish for as long as Redis is away.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeout,
      connectTimeout: timeout,
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      // Named, so that CLIENT LIST tells which node a connection is.
      connectionName: `fastify-pubsub:${this.nodeId}`,
      // RESP2, as before ioredis 6 (which defaults to RESP3): the replies and
      // pushes the engine and its fault tests' proxy read are unchanged.
      protocol: 2
    }
    const connect = connector(options, redisOptions)
    const primaryChange = primaryChangeOf(options.primaryChange, options.sentinels === undefined ? 'continue' : 'new-epoch')
    // Auto-pipelining: the publishes of one turn go to Redis in one write, so
    // Redis answers them, and sends their messages to every node, in one
    // burst, which each node then fans out with one socket write per client
    // instead of one per message.
    this.#command = scripted(connect({ enableAutoPipelining: true }))
    this.#primary = primaryChange === 'new-epoch' ? new PrimaryIdentity(this.#command) : undefined
    // Resubscribed by #resubscribed, not by ioredis: its own resubscribe has
    // no catch, so a connection that drops again right after `ready` would
    // end the process with an unhandled rejection (seen in test/faults).
    this.#subscriber = connect({ autoResubscribe: false })
    for (const redis of [this.#command, this.#subscriber]) {
      redis.on('error', (err: Error) => { this.#reachability.failed(err.message) })
      redis.on('ready', () => { if (this.healthy()) this.#reachability.recovered() })
    }
    this.#probe = new SubscriptionProbe(this.#command, this.#subscriber, this.#key('probe', this.nodeId), () => {
      this.#log?.warn({ nodeId: this.nodeId }, 'redis subscription probe lost: resubscribing')
    })
    this.presence = new RedisPresence({
      command: this.#command,
      key: (kind, name) => this.#key(kind, name),
      nodeId: this.nodeId,
      heartbeat: this.#heartbeatMs,
      call: async (call) => await this.#redis(call),
      local: () => this.#local,
      // presence: false: the topic's client ids are not even stored.
      ids: (key) => hasWildcard(key) || this.#namespaces?.resolve(key)?.presence !== false ? PRESENCE_IDS : 0
    })
    this.#listing = {
      presence: this.presence,
      index: new RetainedIndex({
        command: this.#command,
        call: async (call) => await this.#redis(call),
        groups: 1,
        groupOf: () => 0,
        keys: () => ({ retained: this.#key('retained'), names: this.#key('names') }),
        ttlOf: (topic) => this.#historyTtlOf(topic)
      }),
      metas: async (topics) => await this.#metas(topics),
      snapshot: async (topic) => await this.#snapshot(topic, true),
      retained: (topic, entries) => this.#retained(topic, entries)
    }
    this.#subscriber.on('ready', () => {
      this.#probe.restart()
      void this.#resubscribed()
    })
    this.#subscriber.on('message', (channel: string, payload: string) => { this.#onMessage(channel, payload) })
    this.#subscriber.on('pmessage', (_glob: string, channel: string, payload: string) => { this.#onMessage(channel, payload) })
    this.#heartbeat = setInterval(() => { void this.#beat() }, this.#heartbeatMs)
    this.#heartbeat.unref()
  }

  /** Resolves once both connections are up and subscribed (polling; for tests and startup scripts). */
  async whenConnected (timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout
    while (!this.healthy() || !this.#probe.armed) {
      if (Date.now() > deadline) throw new PUBSUB_ERR_UNAVAILABLE(NOT_CONNECTED)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await this.#beat()
  }

  /** Both connections up: what readiness reports. */
  healthy (): boolean {
    return !this.#closed && this.#command.status === 'ready' && this.#subscriber.status === 'ready'
  }

  attach (link: EngineLink): void {
    this.#link = link
    this.#namespaces = link.namespaces
    for (const namespace of this.#namespaces?.list ?? []) {
      this.#longestHistoryTtl = Math.max(this.#longestHistoryTtl, namespace.historyTtl ?? 0)
    }
    // A topic's meta must outlive its history: a new epoch deletes the history.
    this.#metaTtl = Math.max(this.#topicTtl, this.#longestHistoryTtl)
  }

  async listen (key: string): Promise<void> {
    if (!hasWildcard(key)) this.#continuity.expect(key)
    await this.#listen(key, true)
  }

  async unlisten (key: string): Promise<void> {
    await this.#listen(key, false)
  }

  async snapshot (topic: string, recovery?: Recovery): Promise<Snapshot> {
    const [seq, epoch, entries] = await this.#snapshot(topic, recovery !== undefined)
    // This node's position starts at the first snapshot, or at what it
    // delivered while the snapshot was on its way, and only moves with what
    // it delivers (continuity.ts).
    if (this.#local.count(topic) > 0) this.#continuity.follow(topic, { seq, epoch })
    const snapshot: Snapshot = { seq, epoch }
    if (recovery !== undefined) snapshot.replay = replayFrom(topic, { seq, epoch }, recovery, () => this.#retained(topic, entries))
    return snapshot
  }

  async publish (topic: string, json: string, key?: string): Promise<PublishResult> {
    // The message comes back through this node's subscription and is fanned
    // out then: `delivered` counts the local sessions it is for, now.
    const reach = this.#local.reach(topic)
    let historySize = this.#historySize
    let historyTtl = this.#historyTtl
    if (this.#namespaces !== undefined) {
      const namespace = this.#namespaces.resolve(topic)
      historySize = namespace?.historySize ?? historySize
      historyTtl = namespace?.historyTtl ?? historyTtl
    }
    // A field, but for the first script of a connection.
    let primary = this.#knownPrimary()
    if (primary === undefined) primary = await this.#readPrimary()
    const meta = this.#key('meta', topic)
    const [seq, epoch, delivered, duplicate] = await this.#redis(async () => replied(await this.#batches.add(undefined, {
      // Topics hold no newline, so `topic \n key` names one key of one topic; without a key the meta hash stands in, unread.
      keys: [meta, this.#key('history', topic), key === undefined ? meta : this.#key('idem', `${topic}\n${key}`)],
      args: [topic, json, historySize, historyTtl, key === undefined ? 0 : this.#idempotencyWindow, reach, primary, 0]
    })))
    const result: PublishResult = { topic, seq, epoch, delivered }
    if (duplicate === 1) result.duplicate = true
    return result
  }

  async topics (query: TopicQuery): Promise<TopicPage> {
    return await topicPage(this.#listing, query)
  }

  async topic (name: string, presence: number): Promise<TopicInfo | undefined> {
    return await topicInfo(this.#listing, name, presence)
  }

  async history (topic: string, since: number, limit: number): Promise<HistoryPage | undefined> {
    return await historyPage(this.#listing, topic, since, limit)
  }

  /** Redis holds the history: see its own memory figures. */
  historyBytes (): number {
    return 0
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    this.#reachability.stop()
    try {
      await this.presence.leave()
    } catch {
      // Redis is away: the presence hash expires by itself.
    }
    this.#subscriber.disconnect()
    this.#command.disconnect()
  }

  /** The broker's link: everything but the heartbeat runs after attach. */
  get #linked (): EngineLink {
    return this.#link as EngineLink
  }

  get #local (): LocalSubscriptions {
    return this.#linked.local
  }

  /** `<prefix><kind>`, or `<prefix><kind>:<name>`. */
  #key (kind: string, name?: string): string {
    return name === undefined ? `${this.#prefix}${kind}` : `${this.#prefix}${kind}:${name}`
  }

  #channel (topic: string): string {
    return this.#key('m', topic)
  }

  /**
   * The Redis channel for a topic, or a glob for a pattern: its literal
   * tokens before the first wildcard, then `*`. The glob is a superset (it
   * also matches deeper topics); the broker's index delivers only true matches.
   */
  #target (key: string): { name: string, glob: boolean } {
    if (!hasWildcard(key)) return { name: this.#channel(key), glob: false }
    const tokens = key.split('.')
    const literal = tokens.slice(0, tokens.findIndex((token) => token === '*' || token === '>'))
    return { name: this.#channel(literal.length === 0 ? '*' : `${literal.join('.')}.*`), glob: true }
  }

  #newEpoch (): string {
    return `${this.nodeId}-${(++this.#epochs).toString(36)}`
  }

  /**
   * Brings this node's Redis subscription for `key` in line with the
   * broker's interest: subscribed while some local key needs it. Operations
   * on one channel run in order; resolves when this one's is done.
   */
  async #listen (key: string, wanted: boolean): Promise<void> {
    const { name, glob } = this.#target(key)
    let listening = this.#listening.get(name)
    if (listening === undefined) {
      listening = { glob, keys: new Set(), live: false, chain: Promise.resolve() }
      this.#listening.set(name, listening)
    }
    const entry = listening
    if (wanted) {
      entry.keys.add(key)
    } else {
      entry.keys.delete(key)
      this.#continuity.forget(key)
    }
    const step = entry.chain.catch(() => {}).then(async () => {
      const wanted = entry.keys.size > 0
      if (wanted && !entry.live) {
        await this.#redis(async () => { await (entry.glob ? this.#subscriber.psubscribe(name) : this.#subscriber.subscribe(name)) })
        entry.live = true
      } else if (!wanted && entry.live) {
        entry.live = false
        await this.#redis(async () => { await (entry.glob ? this.#subscriber.punsubscribe(name) : this.#subscriber.unsubscribe(name)) })
      }
      if (entry.keys.size === 0 && !entry.live && this.#listening.get(name) === entry) this.#listening.delete(name)
    })
    entry.chain = step
    await step
  }

  #onMessage (channel: string, payload: string): void {
    if (channel === this.#probe.channel) {
      this.#probe.received(payload)
      return
    }
    const message = decodeMessage(channel.slice(this.#prefix.length + 2), payload)
    const { topic, seq, epoch } = message
    if (seq === this.#lastSeq && topic === this.#lastTopic && epoch === this.#lastEpoch) return
    this.#lastTopic = topic
    this.#lastSeq = seq
    this.#lastEpoch = epoch
    this.#continuity.receive(message)
  }

  /**
   * The subscriber connection is up (again): subscribes it to the probe and
   * to every channel and glob the node listens on. The first time, the node
   * registers itself. After a reconnect, what was published meanwhile never
   * came: each topic is caught up, and pattern subscribers, whose topics a
   * node cannot list, are told they may have lost messages.
   */
  async #resubscribed (): Promise<void> {
    const channels = [this.#probe.channel]
    const globs: string[] = []
    for (const [name, entry] of this.#listening) if (entry.live) (entry.glob ? globs : channels).push(name)
    try {
      await Promise.all([this.#subscriber.subscribe(...channels), globs.length === 0 ? undefined : this.#subscriber.psubscribe(...globs)])
    } catch {
      // Dropped again already: the next `ready` starts over.
      return
    }
    this.#probe.arm()
    if (!this.#subscribedBefore) {
      this.#subscribedBefore = true
      await this.#beat()
      return
    }
    this.#continuity.catchUpAll()
    for (const pattern of this.#local.patternNames.from('', undefined)) this.#linked.reset(pattern, undefined)
  }

  /** A topic's seq and epoch (creating them if the topic has none), with its history when asked. */
  async #snapshot (topic: string, withHistory: boolean): Promise<[number, string, string[]]> {
    let primary = this.#knownPrimary()
    if (primary === undefined) primary = await this.#readPrimary()
    return await this.#redis(async () => await this.#command.pubsubSnapshot(
      this.#key('meta', topic), this.#key('history', topic), this.#newEpoch(), this.#metaTtl, withHistory ? '1' : '0', primary))
  }

  /** What the scripts check a topic's last writer against: '' (nothing) with primaryChange 'continue', else the primary's replication id once read. */
  #knownPrimary (): string | undefined {
    return this.#primary === undefined ? '' : this.#primary.id
  }

  async #readPrimary (): Promise<string> {
    return await this.#redis(async () => await (this.#primary as PrimaryIdentity).read())
  }

  /** The entries of `topic` still within its historyTtl (codec.ts). */
  #retained (topic: string, entries: string[]): Retained[] {
    return decodeRetained(entries, Date.now() - this.#historyTtlOf(topic))
  }

  /** A topic's history ttl: its namespace's, else the engine's. */
  #historyTtlOf (topic: string): number {
    return this.#namespaces?.resolve(topic)?.historyTtl ?? this.#historyTtl
  }

  /** Seq and epoch of each topic; seq 0 and no epoch ('') where the key is gone (deleted by hand, or expiring under a read). */
  async #metas (topics: string[]): Promise<Map<string, { seq: number, epoch: string }>> {
    const pipeline = this.#command.pipeline()
    for (const topic of topics) pipeline.hmget(this.#key('meta', topic), 'seq', 'epoch')
    const replies = await exec(pipeline, async (call) => await this.#redis(call)) as Array<[string | null, string | null]>
    return new Map(topics.map((topic, i) => {
      const [seq, epoch] = replies[i] as [string | null, string | null]
      return [topic, { seq: Number(seq ?? 0), epoch: epoch ?? '' }]
    }))
  }

  /**
   * Every `heartbeat`: rewrites this node's presence (with a TTL, so that a
   * crashed node's counts expire), keeps the sequences of locally subscribed
   * topics alive, and sends the subscription probe (probe.ts) after judging
   * the last one.
   */
  async #beat (): Promise<void> {
    this.#probe.check()
    try {
      // Not attached yet (whenConnected before the broker): no presence or subscriptions to keep.
      if (this.#link !== undefined) {
        const multi = this.#command.multi()
        this.presence.refresh(multi)
        for (const topic of this.#local.topicNames.from('', undefined)) multi.pexpire(this.#key('meta', topic), this.#metaTtl)
        await multi.exec()
      }
      await this.#probe.send()
    } catch (err) {
      // Redis is away: ioredis reconnects; the next beat tries again.
      this.#probe.restart()
      this.#failed(err as Error)
    }
  }

  /**
   * What a failed command tells a client. Redis answered with an error (a key
   * changed by hand) or did not answer in time (hung): it is not away, and
   * no 'ready' would say it is back. Else the connection is down: logged
   * once (reachability.ts), until 'ready'.
   */
  #failed (err: Error): string {
    if (err.name === 'ReplyError' || err.message === 'Command timed out') return FAILED
    this.#reachability.failed(err.message)
    return NOT_CONNECTED
  }

  /**
   * Runs a Redis call; any failure (down, timeout) is UNAVAILABLE to the
   * caller, in plain words: ioredis's reason goes to the log, once.
   */
  async #redis<T> (call: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new PUBSUB_ERR_UNAVAILABLE('engine is closed')
    try {
      return await call()
    } catch (err) {
      throw new PUBSUB_ERR_UNAVAILABLE(this.#failed(err as Error))
    }
  }
}

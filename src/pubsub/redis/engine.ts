import { Redis, type RedisOptions } from 'ioredis'
import { nanoid } from 'nanoid'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Engine, EngineCounts, FanoutListener, HistoryPage, PatternInfo, PublishResult, Recovery, TopicInfo, TopicPage, TopicQuery } from '../engine.js'
import { PUBSUB_ERR_OPTION, PUBSUB_ERR_UNAVAILABLE } from '../../protocol/errors.js'
import { Message } from '../message.js'
import { KEY_PREFIX, limit } from '../defaults.js'
import { replayFrom, type Retained } from '../history.js'
import { PUBLISH, SNAPSHOT } from './scripts.js'
import { isRedisUrl, REDIS_URL_RULE } from './url.js'
import type { Position, Session, SubscribeResult } from '../session.js'
import { SubscriptionIndex } from '../subscription-index.js'
import { hasWildcard } from '../../protocol/topic.js'

export interface RedisEngineOptions {
  /** `redis://host:port/db` (`rediss://` for TLS). */
  url: string
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
  /** Logs reconnects and probes; pino and Fastify's logger fit. */
  logger?: { warn (obj: object, msg: string): void }
}

interface ScriptedRedis extends Redis {
  pubsubPublish (meta: string, history: string, retained: string, idempotency: string, ...args: Array<string | number>): Promise<[number, string, number, 0 | 1]>
  pubsubSnapshot (meta: string, history: string, ...args: Array<string | number>): Promise<[number, string, string[]]>
}

/** A Redis channel or glob this node listens on, and the local keys that need it. */
interface Listening {
  glob: boolean
  keys: Set<string>
  live: boolean
  chain: Promise<void>
}

/**
 * Where delivery goes on after a gap that could not be filled: just before
 * the first message that waited behind the catch-up (it must not be taken
 * for one already delivered), else `otherwise`.
 */
function resumeAt (waiting: Message[], otherwise: Position): Position {
  const next = waiting[0]
  return next === undefined ? otherwise : { seq: next.seq - 1, epoch: next.epoch }
}

/** Reads of history a catch-up tries before it tells the clients it cannot. */
const CATCH_UP_TRIES = 3

/** Client ids stored per topic per node for presence. */
const PRESENCE_IDS = 100

/**
 * The engine for several nodes: seq, epoch and history live in Redis (one
 * Lua script assigns the seq, appends to the history and PUBLISHes, so every
 * node agrees); each node keeps one Redis subscription per exact topic and
 * one per pattern prefix, whatever its number of local subscribers, and fans
 * out locally through the same SubscriptionIndex as the memory engine.
 *
 * Commands fail fast while Redis is away (no offline queue, a timeout on
 * each), so a publish answers UNAVAILABLE within `timeout` instead of
 * hanging; ioredis reconnects and resubscribes by itself when Redis is back.
 */
export class RedisEngine implements Engine {
  readonly nodeId = nanoid(10)
  onFanout: FanoutListener | undefined
  readonly #index = new SubscriptionIndex()
  readonly #command: ScriptedRedis
  readonly #subscriber: Redis
  readonly #prefix: string
  readonly #historySize: number
  readonly #historyTtl: number
  readonly #metaTtl: number
  readonly #idempotencyWindow: number
  readonly #heartbeatMs: number
  readonly #log: RedisEngineOptions['logger']
  readonly #listening = new Map<string, Listening>()
  readonly #heartbeat: NodeJS.Timeout
  /**
   * Where this node's delivery of each topic with a local exact subscriber
   * has got to: a message past it that skips seqs, or a reconnect of the
   * subscriber connection, means some never reached this node.
   */
  readonly #positions = new Map<string, Position>()
  /** Topics being caught up from history; their live messages wait here, in order. */
  readonly #catchingUp = new Map<string, Message[]>()
  /** The subscriber connection was subscribed before: its next `ready` is a reconnect. */
  #subscribedBefore = false
  #epochs = 0
  // Redis sends one PUBLISH to a subscriber as consecutive replies, one per
  // matching channel and pattern: a repeat of the last one is a duplicate.
  #lastTopic = ''
  #lastSeq = 0
  #lastEpoch = ''
  #probe = ''
  #probeSeen = true
  #probeMisses = 0
  #probing = false
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
    const topicTtl = limit('topicTtl', options.topicTtl)
    this.#metaTtl = Math.max(topicTtl, this.#historyTtl)
    this.#idempotencyWindow = limit('idempotencyWindow', options.idempotencyWindow)
    this.#heartbeatMs = limit('redisHeartbeat', options.heartbeat, 'heartbeat')
    this.#log = options.logger
    const redisOptions: RedisOptions = {
      // Fail fast: ioredis would otherwise queue commands while offline and
      // hold a publish for as long as Redis is away.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeout,
      connectTimeout: timeout,
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      // Named, so that CLIENT LIST tells which node a connection is.
      connectionName: `fastify-pubsub:${this.nodeId}`
    }
    const url = options.url
    // Never hand ioredis a URL it cannot use (redis-url.ts).
    if (!isRedisUrl(url)) throw new PUBSUB_ERR_OPTION('url', '(hidden)', REDIS_URL_RULE)
    // Auto-pipelining: the publishes of one turn go to Redis in one write, so
    // Redis answers them, and sends their messages to every node, in one
    // burst, which each node then fans out with one socket write per client
    // instead of one per message.
    this.#command = new Redis(url, { ...redisOptions, enableAutoPipelining: true }) as ScriptedRedis
    this.#command.defineCommand('pubsubPublish', { numberOfKeys: 4, lua: PUBLISH })
    this.#command.defineCommand('pubsubSnapshot', { numberOfKeys: 2, lua: SNAPSHOT })
    // Resubscribed by #resubscribed, not by ioredis: its own resubscribe has
    // no catch, so a connection that drops again right after `ready` would
    // end the process with an unhandled rejection (seen in test/faults).
    this.#subscriber = new Redis(url, { ...redisOptions, autoResubscribe: false })
    for (const redis of [this.#command, this.#subscriber]) {
      redis.on('error', (err: Error) => { this.#log?.warn({ err: err.message }, 'redis connection error') })
    }
    this.#subscriber.on('ready', () => {
      // After any reconnect, a probe sent before it is lost: start over.
      this.#probeSeen = true
      void this.#resubscribed()
    })
    this.#subscriber.on('message', (channel: string, payload: string) => { this.#onMessage(channel, payload) })
    this.#subscriber.on('pmessage', (_glob: string, channel: string, payload: string) => { this.#onMessage(channel, payload) })
    this.#heartbeat = setInterval(() => { void this.#beat() }, this.#heartbeatMs)
    this.#heartbeat.unref()
  }

  /** Resolves once both connections are up (polling; for tests and startup scripts). */
  async ready (timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout
    while (!this.healthy() || !this.#probing) {
      if (Date.now() > deadline) throw new PUBSUB_ERR_UNAVAILABLE('redis: not connected')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await this.#beat()
  }

  /** Both connections up: what readiness reports. */
  healthy (): boolean {
    return !this.#closed && this.#command.status === 'ready' && this.#subscriber.status === 'ready'
  }

  async subscribe (session: Session, key: string, recovery?: Recovery): Promise<SubscribeResult> {
    // A repeated subscribe that fails must not take the first one with it.
    const had = session.keys.has(key)
    this.#index.add(session, key)
    try {
      await this.#listen(key)
      if (session.closed) throw new PUBSUB_ERR_UNAVAILABLE('session closed')
      void this.#writePresence(key)
      if (hasWildcard(key)) return recovery === undefined ? { topic: key } : { topic: key, recovered: false }
      const [seq, epoch, entries] = await this.#snapshot(key, recovery !== undefined)
      // Messages at or below it that are still on their way reach the
      // subscribers that were already here; this node's position starts at
      // the first snapshot, and only moves with what it delivers.
      if (!this.#positions.has(key) && this.#index.count(key) > 0) this.#positions.set(key, { seq, epoch })
      const result: SubscribeResult = { topic: key, seq, epoch }
      if (recovery === undefined) return result
      const replay = replayFrom(key, { seq, epoch }, recovery, () => this.#retained(entries))
      result.recovered = replay !== undefined
      if (replay !== undefined && replay.length > 0) result.replay = replay
      return result
    } catch (err) {
      if (!had) this.#index.remove(session, key)
      void this.#writePresence(key)
      this.#listen(key).catch(() => {})
      throw err
    }
  }

  // Presence is rewritten on every change (other sessions may remain); the
  // Redis subscription follows the local index (#listen is a no-op unless
  // the last local interest went).
  async unsubscribe (session: Session, key: string): Promise<void> {
    this.#index.remove(session, key)
    void this.#writePresence(key)
    await this.#listen(key).catch(() => {})
  }

  removeSession (session: Session): void {
    for (const key of [...session.keys]) {
      this.#index.remove(session, key)
      void this.#writePresence(key)
      this.#listen(key).catch(() => {})
    }
  }

  async publish (topic: string, json: string, key?: string): Promise<PublishResult> {
    const ts = Date.now()
    // Topics hold no newline, so `topic \n key` names one key of one topic.
    const [seq, epoch, reached, duplicate] = await this.#redis(async () => await this.#command.pubsubPublish(
      this.#key('meta', topic), this.#key('history', topic), this.#key('retained'), this.#key('idem', `${topic}\n${key ?? ''}`),
      topic, json, ts, this.#historySize, this.#historyTtl, this.#metaTtl, this.#newEpoch(), this.#channel(topic),
      key === undefined ? 0 : this.#idempotencyWindow))
    // `delivered`: the nodes (Redis subscribers) the message reached; their
    // local sessions are not counted back.
    const result: PublishResult = { topic, seq, epoch, delivered: reached }
    if (duplicate === 1) result.duplicate = true
    return result
  }

  async topics (query: TopicQuery): Promise<TopicPage> {
    const { counts, retained } = await this.#figures()
    const names = new Set([...counts.keys(), ...retained])
    const sorted = [...names].filter((name) => name.startsWith(query.prefix) && (query.after === undefined || name > query.after)).sort()
    const page: TopicPage = { topics: [], patterns: [] }
    const taken = sorted.slice(0, query.limit)
    const exact = taken.filter((name) => !hasWildcard(name))
    const metas = await this.#metas(exact)
    for (const name of taken) {
      const subscribers = counts.get(name)?.count ?? 0
      if (hasWildcard(name)) {
        page.patterns.push({ pattern: name, subscribers } satisfies PatternInfo)
      } else {
        const meta = metas.get(name) as { seq: number, epoch: string }
        page.topics.push({ topic: name, subscribers, seq: meta.seq, epoch: meta.epoch })
      }
    }
    if (sorted.length > query.limit) page.next = taken.at(-1)
    return page
  }

  async topic (name: string, presence: number): Promise<TopicInfo | undefined> {
    const { counts, retained } = await this.#figures()
    const entry = counts.get(name)
    if (entry === undefined && !retained.has(name)) return undefined
    const meta = (await this.#metas([name])).get(name) as { seq: number, epoch: string }
    return { topic: name, subscribers: entry?.count ?? 0, seq: meta.seq, epoch: meta.epoch, clients: (entry?.clients ?? []).slice(0, presence) }
  }

  async history (topic: string, since: number, limit: number): Promise<HistoryPage | undefined> {
    if ((await this.topic(topic, 0)) === undefined) return undefined
    const [seq, epoch, entries] = await this.#snapshot(topic, true)
    const retained = this.#retained(entries)
    const messages = retained.filter((m) => m.seq > since).slice(0, limit).map((m) => new Message(topic, m.seq, epoch, m.ts, m.json))
    return { topic, seq, epoch, first: retained[0]?.seq, messages }
  }

  counts (): EngineCounts {
    return this.#index.counts
  }

  /** Redis holds the history: see its own memory figures. */
  historyBytes (): number {
    return 0
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    try {
      await this.#command.multi().del(this.#key('presence', this.nodeId)).zrem(this.#key('nodes'), this.nodeId).exec()
    } catch {
      // Redis is away: the presence hash expires by itself.
    }
    this.#subscriber.disconnect()
    this.#command.disconnect()
  }

  get #probeChannel (): string {
    return this.#key('probe', this.nodeId)
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
   * also matches deeper topics); the local index delivers only true matches.
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
   * Brings this node's Redis subscription for `key` in line with the local
   * index: subscribed while some local key needs it. Operations on one
   * channel run in order; resolves when this one's is done.
   */
  async #listen (key: string): Promise<void> {
    const { name, glob } = this.#target(key)
    let listening = this.#listening.get(name)
    if (listening === undefined) {
      listening = { glob, keys: new Set(), live: false, chain: Promise.resolve() }
      this.#listening.set(name, listening)
    }
    const entry = listening
    if (this.#index.count(key) > 0) {
      entry.keys.add(key)
    } else {
      entry.keys.delete(key)
      this.#positions.delete(key)
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
    if (channel === this.#probeChannel) {
      if (payload === this.#probe) this.#probeSeen = true
      return
    }
    const topic = channel.slice(this.#prefix.length + 2)
    const first = payload.indexOf('\n')
    const second = payload.indexOf('\n', first + 1)
    const third = payload.indexOf('\n', second + 1)
    const seq = Number(payload.slice(0, first))
    const epoch = payload.slice(first + 1, second)
    if (seq === this.#lastSeq && topic === this.#lastTopic && epoch === this.#lastEpoch) return
    this.#lastTopic = topic
    this.#lastSeq = seq
    this.#lastEpoch = epoch
    const ts = Number(payload.slice(second + 1, third))
    this.#receive(new Message(topic, seq, epoch, ts, payload.slice(third + 1)))
  }

  /**
   * A live message, in Redis's order: delivered unless this node has had
   * it. A seq past the next one means some never came: they are caught up
   * from history first. Another epoch means the topic's sequence restarted
   * (Redis lost it): subscribers are told, then get the new sequence.
   */
  #receive (message: Message): void {
    const waiting = this.#catchingUp.get(message.topic)
    if (waiting !== undefined) {
      waiting.push(message)
      return
    }
    let position = this.#positions.get(message.topic)
    if (position !== undefined && position.epoch !== message.epoch) {
      this.#lost(message.topic, { seq: 0, epoch: message.epoch })
      position = this.#positions.get(message.topic) as Position
    }
    if (position !== undefined) {
      if (message.seq <= position.seq) return
      if (message.seq > position.seq + 1) {
        void this.#catchUp(message.topic, { ...position }, [message])
        return
      }
    }
    this.#fanout(message)
  }

  #fanout (message: Message): void {
    const position = this.#positions.get(message.topic)
    if (position !== undefined) position.seq = message.seq
    // The publishing node's wall clock against this one's: ms resolution.
    this.onFanout?.(message, this.#index.deliver(message), Date.now() - message.ts)
  }

  /**
   * Delivers to local subscribers what this node missed of `topic` after
   * `from`, from history, while its live messages wait; where history cannot
   * cover it (trimmed, expired, another epoch, Redis away) they are told.
   */
  async #catchUp (topic: string, from: Position, waiting: Message[] = []): Promise<void> {
    this.#catchingUp.set(topic, waiting)
    try {
      const [seq, epoch, entries] = await this.#snapshotPatiently(topic)
      // Another epoch: the sequence restarted, and its start may still be retained.
      const since = epoch === from.epoch ? from.seq : 0
      if (epoch !== from.epoch) this.#lost(topic, { seq: 0, epoch })
      const replay = replayFrom(topic, { seq, epoch }, { since, epoch }, () => this.#retained(entries))
      if (replay === undefined) this.#lost(topic, resumeAt(waiting, { seq, epoch }))
      else for (const message of replay) this.#fanout(message)
    } catch {
      this.#lost(topic, resumeAt(waiting, from))
    } finally {
      this.#catchingUp.delete(topic)
      for (const message of waiting) this.#receive(message)
    }
  }

  /**
   * A topic's snapshot with its history, tried a few times: right after a
   * reconnect of the subscriber connection, the command connection may still
   * be coming back (a restarted Redis).
   */
  async #snapshotPatiently (topic: string, attempt = 1): Promise<[number, string, string[]]> {
    try {
      return await this.#snapshot(topic, true)
    } catch (err) {
      if (attempt === CATCH_UP_TRIES) throw err
    }
    // Not ref'd: a closing engine fails the next try at once (#redis).
    await sleep(100 * attempt, undefined, { ref: false })
    return await this.#snapshotPatiently(topic, attempt + 1)
  }

  /** Messages of `topic` before `position` cannot reach its local subscribers: they are told, and delivery goes on from there. */
  #lost (topic: string, position: Position): void {
    if (this.#positions.has(topic)) this.#positions.set(topic, { ...position })
    this.#index.reset(topic, position)
  }

  /**
   * The subscriber connection is up (again): subscribes it to the probe and
   * to every channel and glob the node listens on. The first time, the node
   * registers itself. After a reconnect, what was published meanwhile never
   * came: each topic is caught up, and pattern subscribers, whose topics a
   * node cannot list, are told they may have lost messages.
   */
  async #resubscribed (): Promise<void> {
    const channels = [this.#probeChannel]
    const globs: string[] = []
    for (const [name, entry] of this.#listening) if (entry.live) (entry.glob ? globs : channels).push(name)
    try {
      await Promise.all([this.#subscriber.subscribe(...channels), globs.length === 0 ? undefined : this.#subscriber.psubscribe(...globs)])
    } catch {
      // Dropped again already: the next `ready` starts over.
      return
    }
    this.#probing = true
    if (!this.#subscribedBefore) {
      this.#subscribedBefore = true
      await this.#beat()
      return
    }
    for (const [topic, position] of this.#positions) if (!this.#catchingUp.has(topic)) void this.#catchUp(topic, { ...position })
    for (const pattern of this.#index.patternNames.from('', undefined)) this.#index.reset(pattern, undefined)
  }

  /** A topic's seq and epoch (creating them if the topic has none), with its history when asked. */
  async #snapshot (topic: string, withHistory: boolean): Promise<[number, string, string[]]> {
    return await this.#redis(async () => await this.#command.pubsubSnapshot(
      this.#key('meta', topic), this.#key('history', topic), this.#newEpoch(), this.#metaTtl, withHistory ? '1' : '0'))
  }

  /**
   * The entries still within historyTtl. Nodes' clocks differ, so a middle
   * entry may look older than a later one: everything up to the last expired
   * entry goes, so that what is kept has no gap.
   */
  #retained (entries: string[]): Retained[] {
    const oldest = Date.now() - this.#historyTtl
    let retained: Retained[] = []
    for (const entry of entries) {
      const first = entry.indexOf('\n')
      const second = entry.indexOf('\n', first + 1)
      const ts = Number(entry.slice(first + 1, second))
      if (ts < oldest) retained = []
      else retained.push({ seq: Number(entry.slice(0, first)), ts, json: entry.slice(second + 1) })
    }
    return retained
  }

  /** Cluster-wide subscriber counts (from every live node's presence hash) and the topics retaining messages. */
  async #figures (): Promise<{ counts: Map<string, { count: number, clients: string[] }>, retained: Set<string> }> {
    const now = Date.now()
    const nodes = await this.#redis(async () => await this.#command.zrangebyscore(this.#key('nodes'), now - 3 * this.#heartbeatMs, '+inf'))
    const pipeline = this.#command.pipeline()
    for (const node of nodes) pipeline.hgetall(this.#key('presence', node))
    pipeline.zrangebyscore(this.#key('retained'), now - this.#historyTtl, '+inf')
    const results = await this.#exec(pipeline)
    const counts = new Map<string, { count: number, clients: string[] }>()
    for (const hash of results.slice(0, -1) as Array<Record<string, string>>) {
      for (const [name, value] of Object.entries(hash)) {
        // [count, ...client ids] (a sub may hold any character)
        const [count, ...clients] = JSON.parse(value) as [number, ...string[]]
        const entry = counts.get(name) ?? { count: 0, clients: [] }
        entry.count += count
        entry.clients.push(...clients)
        counts.set(name, entry)
      }
    }
    return { counts, retained: new Set(results.at(-1) as string[]) }
  }

  /** Seq and epoch of each topic; seq 0 and no epoch ('') where the key is gone (deleted by hand, or expiring under a read). */
  async #metas (topics: string[]): Promise<Map<string, { seq: number, epoch: string }>> {
    const pipeline = this.#command.pipeline()
    for (const topic of topics) pipeline.hmget(this.#key('meta', topic), 'seq', 'epoch')
    const replies = await this.#exec(pipeline) as Array<[string | null, string | null]>
    return new Map(topics.map((topic, i) => {
      const [seq, epoch] = replies[i] as [string | null, string | null]
      return [topic, { seq: Number(seq ?? 0), epoch: epoch ?? '' }]
    }))
  }

  /** A pipeline's replies; a command's error (a key of the wrong type) fails the whole read. */
  async #exec (pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    const replies = await this.#redis(async () => await pipeline.exec()) as Array<[Error | null, unknown]>
    const failed = replies.find(([err]) => err !== null)
    if (failed !== undefined) throw new PUBSUB_ERR_UNAVAILABLE(`redis: ${(failed[0] as Error).message}`)
    return replies.map(([, value]) => value)
  }

  /** This node's figure for one key, as other nodes read it. */
  #presenceValue (key: string): string {
    return JSON.stringify([this.#index.count(key), ...this.#index.clientIds(key, PRESENCE_IDS)])
  }

  async #writePresence (key: string): Promise<void> {
    try {
      const hash = this.#key('presence', this.nodeId)
      if (this.#index.count(key) > 0) {
        // The node is listed too: its subscribers count before its first heartbeat.
        await this.#command.multi().hset(hash, key, this.#presenceValue(key)).pexpire(hash, 3 * this.#heartbeatMs)
          .zadd(this.#key('nodes'), Date.now(), this.nodeId).exec()
      } else {
        await this.#command.hdel(hash, key)
      }
    } catch {
      // Redis is away; the next heartbeat rewrites the whole hash.
    }
  }

  /**
   * Every `heartbeat`: rewrites this node's presence (with a TTL, so that a
   * crashed node's counts expire), keeps the sequences of locally subscribed
   * topics alive, and checks that the probe published last time came back
   * through this node's own subscription; if not, the subscription is dead
   * (seen after failovers elsewhere) and the connection is recycled, which
   * makes ioredis subscribe to everything again.
   */
  async #beat (): Promise<void> {
    // Two heartbeats without the probe back, so that a slow moment is not
    // taken for a dead subscription; no verdict while the connection is down.
    const subscribed = this.#probing && this.#subscriber.status === 'ready'
    this.#probeMisses = this.#probeSeen || !subscribed ? 0 : this.#probeMisses + 1
    if (this.#probeMisses >= 2) {
      this.#log?.warn({ nodeId: this.nodeId }, 'redis subscription probe lost: resubscribing')
      this.#probeMisses = 0
      this.#probeSeen = true
      this.#subscriber.disconnect(true)
    }
    try {
      const hash = this.#key('presence', this.nodeId)
      const multi = this.#command.multi().del(hash)
      const fields: string[] = []
      for (const map of [this.#index.topicNames, this.#index.patternNames]) {
        for (const key of map.from('', undefined)) fields.push(key, this.#presenceValue(key))
      }
      if (fields.length > 0) multi.hset(hash, ...fields)
      multi.pexpire(hash, 3 * this.#heartbeatMs).zadd(this.#key('nodes'), Date.now(), this.nodeId)
      multi.zremrangebyscore(this.#key('nodes'), '-inf', Date.now() - 3 * this.#heartbeatMs)
      for (const topic of this.#index.topicNames.from('', undefined)) multi.pexpire(this.#key('meta', topic), this.#metaTtl)
      await multi.exec()
      // A new probe only once the last one came back, through a live subscription.
      if (this.#probeSeen && this.#subscriber.status === 'ready') {
        this.#probe = nanoid(8)
        this.#probeSeen = false
        await this.#command.publish(this.#probeChannel, this.#probe)
      }
    } catch (err) {
      // Redis is away: ioredis reconnects; the next beat tries again.
      this.#probeSeen = true
      this.#log?.warn({ err: (err as Error).message }, 'redis heartbeat failed')
    }
  }

  /** Runs a Redis call; any failure (down, timeout) is UNAVAILABLE to the caller. */
  async #redis<T> (call: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new PUBSUB_ERR_UNAVAILABLE('engine is closed')
    try {
      return await call()
    } catch (err) {
      throw new PUBSUB_ERR_UNAVAILABLE(`redis: ${(err as Error).message}`)
    }
  }
}

import type { ConnectionOptions } from 'node:tls'
import { Cluster, type ClusterOptions } from 'ioredis'
import { nanoid } from 'nanoid'
import type { Engine, EngineLink, HistoryPage, LocalSubscriptions, PublishResult, Recovery, Snapshot, TopicInfo, TopicPage, TopicQuery } from '../engine.js'
import { PUBSUB_ERR_OPTION, PUBSUB_ERR_UNAVAILABLE } from '../../protocol/errors.js'
import { KEY_PREFIX, limit } from '../defaults.js'
import { replayFrom, type Retained } from '../history.js'
import type { Namespaces } from '../namespaces.js'
import { historyPage, topicInfo, topicPage, type ListingSource } from './listing.js'
import { RetainedIndex } from './retained-index.js'
import { batchArguments, PublishBatches, replied, type BatchedPublish } from './publish-batch.js'
import { Continuity } from './continuity.js'
import { decodeMessage, decodeRetained } from './codec.js'
import { PRESENCE_IDS, RedisPresence } from './presence.js'
import { scriptedCluster, type ScriptedCluster } from './cluster-scripts.js'
import { GROUP_TAGS, GROUPS, groupOf, partitionOf, PARTITIONS } from './slots.js'
import { NOT_CONNECTED, Reachability, type ReachabilityLogger } from './reachability.js'
import { hasWildcard } from '../../protocol/topic.js'
import { ADDRESSES_RULE, parseAddresses } from './addresses.js'
import type { PrimaryChange } from './engine.js'
import { primaryChangeOf } from './primary.js'

export interface RedisClusterEngineOptions {
  /** Some of the cluster's nodes, as `host:port` (one is enough: the others are discovered). */
  nodes: string[]
  /**
   * When a shard's primary changes (a failover, a restart), each of its
   * topics starts a new epoch on its next use, since the new primary may
   * lack the last seqs clients saw ('new-epoch', the default), or its
   * sequence goes on ('continue': saves an INFO per script, for a cluster
   * that never fails over with writes missing). docs/scaling.md.
   */
  primaryChange?: PrimaryChange
  /** The nodes' password (their `requirepass`: AUTH on every connection), for a cluster that has one. */
  password?: string
  /** TLS to every node: `true`, or Node's `tls.connect` options (`ca` for a private CA, `servername`, ...). */
  tls?: boolean | ConnectionOptions
  /** Prefix of every key and channel, so that several deployments share a cluster (default `pubsub:`). */
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
  /** ms between a node's presence refreshes (default 5000); a node that stops refreshing drops out of the figures after three. */
  heartbeat?: number
  /** Logs Redis going away and coming back; pino and Fastify's logger fit. */
  logger?: ReachabilityLogger
}

/** A sharded channel this node listens on, and the local keys that need it. */
interface Listening {
  /** A group's fan-in channel (for patterns), rather than one topic's channel. */
  fanIn: boolean
  keys: Set<string>
  live: boolean
  chain: Promise<void>
  /** A fan-in channel's count in its last message, since this node subscribed to it. */
  count?: number
}

/** ms between "Redis still unreachable" summaries while the cluster is away. */
const SUMMARY_MS = 30_000
/** What a 503 says when Redis answered a command with an error, or too late. */
const FAILED = 'the Redis engine did not complete the request'

/**
 * The engine for several nodes on a Redis Cluster (docs/scaling.md). Every
 * key and channel of a topic carries the hash tag of its slot group, so one
 * script on one shard assigns the seq, appends to the history and SPUBLISHes
 * on the topic's sharded channel and on its group's fan-in channel for
 * patterns. Each node SSUBSCRIBEs (ioredis's sharded subscribers: one
 * connection per primary, following slot moves) to the channel of each topic
 * with a local exact subscriber, and to the fan-in channels that its
 * patterns need; the broker fans out what arrives.
 */
export class RedisClusterEngine implements Engine {
  readonly nodeId = nanoid(10)
  readonly presence: RedisPresence
  /** What the listing routes read (listing.ts). */
  readonly #listing: ListingSource
  #link: EngineLink | undefined
  readonly #cluster: ScriptedCluster
  readonly #prefix: string
  readonly #historySize: number
  readonly #historyTtl: number
  readonly #topicTtl: number
  #metaTtl: number
  #longestHistoryTtl: number
  #namespaces: Namespaces | undefined
  readonly #idempotencyWindow: number
  /** primaryChange 'new-epoch': the scripts check which primary last wrote each topic (scripts.ts PRIMARY_FOR). */
  readonly #checksLineage: boolean
  /** The replication ids being looked for among the primaries, for concurrent scripts that met the same one. */
  readonly #lineageLookups = new Map<string, Promise<boolean>>()
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

  /**
   * The last message of each exactly listened topic that came on its own
   * channel: its copy on the fan-in channel, which the same script sent
   * right after it on the same shard connection, is the same message.
   */
  readonly #lastExact = new Map<string, { seq: number, epoch: string }>()
  /** The publishes of a turn, one script call per slot group (publish-batch.ts). */
  readonly #batches = new PublishBatches<number>(async (group, batch) => await this.#cluster.pubsubPublishBatch(...batchArguments({
    retained: this.#key(group, 'retained'),
    names: this.#key(group, 'names'),
    args: [Date.now(), this.#metaTtl, this.#longestHistoryTtl, `${this.#key(group, 'm')}:`, `${this.#key(group, 'w')}:`, `${this.#newEpoch()}.`]
  }, batch)))

  /** The sharded subscribers were ready before: their next `subscribersReady` follows a reconnect or a slot move. */
  #subscribersReady = false
  /**
   * For each local pattern told of a loss (a `reset`), the fan-in channels
   * that have delivered since: a loss that shows on one of them may be past
   * what the client was told, one on another channel is not (#onFanIn).
   */
  readonly #sinceReset = new Map<string, Set<Listening>>()

  #epochs = 0
  #closed = false

  constructor (options: RedisClusterEngineOptions) {
    this.#prefix = options.keyPrefix ?? KEY_PREFIX.default
    if (typeof this.#prefix !== 'string' || !new RegExp(KEY_PREFIX.pattern).test(this.#prefix)) {
      throw new PUBSUB_ERR_OPTION('keyPrefix', this.#prefix, KEY_PREFIX.allowed)
    }
    const nodes = parseAddresses(options.nodes)
    if (nodes === undefined) throw new PUBSUB_ERR_OPTION('nodes', options.nodes, ADDRESSES_RULE)
    const timeout = limit('redisTimeout', options.timeout, 'timeout')
    this.#historySize = limit('historySize', options.historySize)
    this.#historyTtl = limit('historyTtl', options.historyTtl)
    this.#topicTtl = limit('topicTtl', options.topicTtl)
    this.#longestHistoryTtl = this.#historyTtl
    this.#metaTtl = Math.max(this.#topicTtl, this.#historyTtl)
    this.#idempotencyWindow = limit('idempotencyWindow', options.idempotencyWindow)
    const heartbeat = limit('redisHeartbeat', options.heartbeat, 'heartbeat')
    this.#checksLineage = primaryChangeOf(options.primaryChange, 'new-epoch') === 'new-epoch'
    this.#reachability = new Reachability(options.logger, SUMMARY_MS)
    const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls
    const clusterOptions: ClusterOptions = {
      // Sharded Pub/Sub: SSUBSCRIBE on the primary of each channel's slot,
      // resubscribed by ioredis when slots move (ClusterSubscriberGroup), and
      // after a primary dies: its subscriber's `-node` refreshes the slots,
      // again and again, until the promoted replica holds them (redis/ioredis#2060;
      // test/pubsub/redis/cluster-failover.test.ts).
      shardedSubscribers: true,
      // Fail fast, as the single-Redis engine does: no queue while the cluster is away.
      enableOfflineQueue: false,
      // The publishes of one turn go to each shard in one write.
      enableAutoPipelining: true,
      // ioredis (5.11, 6.1) leaves SSUBSCRIBE and SUNSUBSCRIBE out of the commands it
      // never auto-pipelines (notAllowedAutoPipelineCommands, autoPipelining.js):
      // batched with a script, they put its shard's command connection in
      // subscriber mode ("Connection in subscriber mode, only subscriber
      // commands may be used").
      // And the publish batches, whose first argument is their number of keys:
      // ioredis would take it for the key that picks the pipeline's slot
      // ("All keys in the pipeline should belong to the same slots
      // allocation group"). A batch is a turn's publishes of a slot group already.
      // (Sent as EVALSHA they would be auto-pipelined by their first key; measured,
      // that cost the node more CPU than it saved Redis: docs/scaling.md.)
      autoPipeliningIgnoredCommands: ['ssubscribe', 'sunsubscribe', 'pubsubPublishBatch'],
      clusterRetryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      slotsRefreshTimeout: timeout,
      // With TLS, connect by the names the cluster gives, so that they are what
      // the certificates are checked against (ioredis's README, "Special note: AWS ElastiCache Clusters with TLS").
      ...(tls === undefined ? {} : { dnsLookup: (address: string, callback: (err: null, address: string) => void) => { callback(null, address) } }),
      redisOptions: {
        maxRetriesPerRequest: 0,
        commandTimeout: timeout,
        connectTimeout: timeout,
        connectionName: `fastify-pubsub:${this.nodeId}`,
        // The sharded subscribers' connections take redisOptions too (ShardedSubscriber.js), password and protocol included.
        ...(options.password === undefined ? {} : { password: options.password }),
        ...(tls === undefined ? {} : { tls }),
        // RESP2, as before ioredis 6 (which defaults to RESP3).
        protocol: 2
      }
    }
    this.#cluster = scriptedCluster(new Cluster(nodes, clusterOptions))
    this.#cluster.on('error', (err: Error) => { this.#reachability.failed(err.message) })
    this.#cluster.on('ready', () => { this.#reachability.recovered() })
    this.#cluster.on('subscribersReady', () => { this.#resubscribed() })
    this.#cluster.on('smessage', (channel: string, payload: string) => { this.#onMessage(channel, payload) })
    this.presence = new RedisPresence({
      command: this.#cluster,
      // One slot for every node's presence: a reader gets it in one pipeline.
      key: (kind, name) => name === undefined ? `${this.#prefix}{presence}:${kind}` : `${this.#prefix}{presence}:${kind}:${name}`,
      nodeId: this.nodeId,
      heartbeat,
      call: async (call) => await this.#redis(call),
      local: () => this.#local,
      ids: (key) => hasWildcard(key) || this.#namespaces?.resolve(key)?.presence !== false ? PRESENCE_IDS : 0
    })
    this.#listing = {
      presence: this.presence,
      index: new RetainedIndex({
        command: this.#cluster,
        call: async (call) => await this.#redis(call),
        groups: GROUPS,
        groupOf,
        keys: (group) => ({ retained: this.#key(group, 'retained'), names: this.#key(group, 'names') }),
        ttlOf: (topic) => this.#historyTtlOf(topic)
      }),
      metas: async (topics) => await this.#metas(topics),
      snapshot: async (topic) => await this.#snapshot(topic, true),
      retained: (topic, entries) => this.#retained(topic, entries)
    }
    this.#heartbeat = setInterval(() => { void this.#beat() }, heartbeat)
    this.#heartbeat.unref()
  }

  /** Resolves once the cluster and its sharded subscribers are up (polling; for tests and startup scripts). */
  async whenConnected (timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout
    while (!this.healthy()) {
      if (Date.now() > deadline) throw new PUBSUB_ERR_UNAVAILABLE(NOT_CONNECTED)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await this.#beat()
  }

  /** The cluster connected and its sharded subscribers started once: what readiness reports. */
  healthy (): boolean {
    return !this.#closed && this.#cluster.status === 'ready' && this.#subscribersReady
  }

  attach (link: EngineLink): void {
    this.#link = link
    this.#namespaces = link.namespaces
    for (const namespace of this.#namespaces?.list ?? []) {
      this.#longestHistoryTtl = Math.max(this.#longestHistoryTtl, namespace.historyTtl ?? 0)
    }
    this.#metaTtl = Math.max(this.#topicTtl, this.#longestHistoryTtl)
  }

  async listen (key: string): Promise<void> {
    if (!hasWildcard(key)) this.#continuity.expect(key)
    await Promise.all(this.#channels(key).map(async (channel) => { await this.#listen(channel, key, true) }))
  }

  async unlisten (key: string): Promise<void> {
    if (!hasWildcard(key)) {
      this.#continuity.forget(key)
      this.#lastExact.delete(key)
    } else {
      this.#sinceReset.delete(key)
    }
    await Promise.all(this.#channels(key).map(async (channel) => { await this.#listen(channel, key, false) }))
  }

  async snapshot (topic: string, recovery?: Recovery): Promise<Snapshot> {
    const [seq, epoch, entries] = await this.#snapshot(topic, recovery !== undefined)
    if (this.#local.count(topic) > 0) this.#continuity.follow(topic, { seq, epoch })
    const snapshot: Snapshot = { seq, epoch }
    if (recovery !== undefined) snapshot.replay = replayFrom(topic, { seq, epoch }, recovery, () => this.#retained(topic, entries))
    return snapshot
  }

  async publish (topic: string, json: string, key?: string): Promise<PublishResult> {
    const reach = this.#local.reach(topic)
    let historySize = this.#historySize
    let historyTtl = this.#historyTtl
    if (this.#namespaces !== undefined) {
      const namespace = this.#namespaces.resolve(topic)
      historySize = namespace?.historySize ?? historySize
      historyTtl = namespace?.historyTtl ?? historyTtl
    }
    const group = groupOf(topic)
    const meta = this.#key(group, 'meta', topic)
    // As on one Redis (engine.ts): the meta hash stands in for a missing idempotency key.
    const partition = partitionOf(firstToken(topic))
    const keys: BatchedPublish['keys'] = [meta, this.#key(group, 'history', topic), key === undefined ? meta : this.#key(group, 'idem', `${topic}\n${key}`), this.#key(group, 'wcount', String(partition))]
    const window = key === undefined ? 0 : this.#idempotencyWindow
    const [seq, epoch, delivered, duplicate] = await this.#redis(async () => await this.#lineageChecked(async (lineage) =>
      replied(await this.#batches.add(group, { keys, args: [topic, json, historySize, historyTtl, window, reach, lineage, partition] }))))
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
      // The cluster is away: the presence hash expires by itself.
    }
    this.#cluster.disconnect()
  }

  /** The broker's link; only the heartbeat may run before `attach`. */
  get #linked (): EngineLink {
    return this.#link as EngineLink
  }

  get #local (): LocalSubscriptions {
    return this.#linked.local
  }

  /** `<prefix>{<group tag>}:<kind>`, or `…:<kind>:<name>`: every key of a group in the slot of its tag. */
  #key (group: number, kind: string, name?: string): string {
    const base = `${this.#prefix}{${GROUP_TAGS[group] as string}}:${kind}`
    return name === undefined ? base : `${base}:${name}`
  }

  #fanIn (group: number, partition: number): string {
    return this.#key(group, 'w', String(partition))
  }

  /**
   * The sharded channels a key needs: a topic's own, or for a pattern the
   * fan-in channels of its first token's partition in every group (of every
   * partition when the first token is a wildcard). They carry a superset;
   * the broker's index delivers only true matches.
   */
  #channels (key: string): string[] {
    if (!hasWildcard(key)) return [this.#key(groupOf(key), 'm', key)]
    const first = firstToken(key)
    const partitions = first === '*' || first === '>' ? [...Array(PARTITIONS).keys()] : [partitionOf(first)]
    const channels: string[] = []
    for (let group = 0; group < GROUPS; group++) for (const partition of partitions) channels.push(this.#fanIn(group, partition))
    return channels
  }

  #newEpoch (): string {
    return `${this.nodeId}-${(++this.#epochs).toString(36)}`
  }

  /**
   * Brings this node's subscription to `channel` in line with the broker's
   * interest, in order per channel (engine.ts #listen).
   */
  async #listen (channel: string, key: string, wanted: boolean): Promise<void> {
    let listening = this.#listening.get(channel)
    if (listening === undefined) {
      listening = { fanIn: hasWildcard(key), keys: new Set(), live: false, chain: Promise.resolve() }
      this.#listening.set(channel, listening)
    }
    const entry = listening
    if (wanted) entry.keys.add(key)
    else entry.keys.delete(key)
    const step = entry.chain.catch(() => {}).then(async () => {
      const wanted = entry.keys.size > 0
      if (wanted && !entry.live) {
        // Counted anew: what came before this subscribe was not missed.
        delete entry.count
        await this.#redis(async () => await this.#cluster.ssubscribe(channel))
        entry.live = true
      } else if (!wanted && entry.live) {
        entry.live = false
        await this.#redis(async () => await this.#cluster.sunsubscribe(channel))
      }
      if (entry.keys.size === 0 && !entry.live && this.#listening.get(channel) === entry) this.#listening.delete(channel)
    })
    entry.chain = step
    await step
  }

  #onMessage (channel: string, payload: string): void {
    // A channel no longer listened to: nobody here wants its messages (and
    // which kind of channel it was is gone with it).
    const listening = this.#listening.get(channel)
    /* c8 ignore next -- a timed-out SSUBSCRIBE that its shard runs late (cluster-engine.test.ts, "a subscribe that timed out"): timing decides whether a run gets here */
    if (listening === undefined) return
    let start = 0
    if (listening.fanIn) {
      start = payload.indexOf('\n') + 1
      this.#onFanIn(listening, payload.slice(0, start - 1))
    }
    const newline = payload.indexOf('\n', start)
    const message = decodeMessage(payload.slice(start, newline), payload.slice(newline + 1))
    const { topic, seq, epoch } = message
    if (listening.fanIn) {
      const last = this.#lastExact.get(topic)
      if (last !== undefined && last.seq === seq && last.epoch === epoch) return
    } else {
      this.#lastExact.set(topic, { seq, epoch })
    }
    this.#continuity.receive(message)
  }

  /**
   * A fan-in channel's count, one more per message (cluster-scripts.ts):
   * past the next one, messages of the channel never came here (a shard's
   * connection dropped, its slot moved, a resubscribe was late); behind it,
   * its shard lost writes (a failover to a replica that lacked them, a
   * restart); marked `!`, the message's topic started a new epoch over an
   * old one (its sequence restarted). The patterns that listen on the
   * channel are told (a node cannot catch up a pattern), before the
   * message, unless a reset since which the channel delivered nothing told
   * them already. Nothing is told when nothing was lost.
   */
  #onFanIn (listening: Listening, field: string): void {
    const count = parseInt(field, 10)
    const lost = (listening.count !== undefined && count !== listening.count + 1) || field.endsWith('!')
    listening.count = count
    for (const pattern of listening.keys) {
      let delivered = this.#sinceReset.get(pattern)
      // Told already, and nothing of this channel delivered since: the reset covers this loss too.
      if (lost && (delivered === undefined || delivered.has(listening))) {
        this.#linked.reset(pattern, undefined)
        delivered = new Set()
        this.#sinceReset.set(pattern, delivered)
      }
      delivered?.add(listening)
    }
  }

  /**
   * ioredis has (re)subscribed its sharded subscribers: the first time at
   * connect, later after a shard's connection dropped or slots moved. What
   * was published meanwhile never came: each topic is caught up (a topic
   * already catching up is not asked again). Patterns learn of a loss from
   * their channels' counts (#onFanIn).
   */
  #resubscribed (): void {
    if (!this.#subscribersReady) {
      this.#subscribersReady = true
      return
    }
    this.#continuity.catchUpAll()
  }

  async #snapshot (topic: string, withHistory: boolean): Promise<[number, string, string[]]> {
    const group = groupOf(topic)
    return await this.#redis(async () => await this.#lineageChecked(async (lineage) => await this.#cluster.pubsubSnapshot(
      this.#key(group, 'meta', topic), this.#key(group, 'history', topic), this.#newEpoch(), this.#metaTtl, withHistory ? '1' : '0', lineage)))
  }

  /**
   * Runs a script with the lineage check (scripts.ts PRIMARY_FOR). A topic
   * last written under a replication id that the Redis running it never
   * had is looked for among the primaries: one that still has it wrote
   * the topic and handed it over with its slot, whole; else the topic
   * starts a new epoch.
   */
  async #lineageChecked<T> (run: (lineage: string) => Promise<T>): Promise<T> {
    if (!this.#checksLineage) return await run('')
    try {
      return await run('*')
    } catch (err) {
      const writer = /^PUBSUB_LINEAGE (\w*)/.exec((err as Error).message)?.[1]
      if (writer === undefined) throw err
      return await run(await this.#isLivePrimary(writer) ? `*${writer}` : '!')
    }
  }

  /**
   * Whether a primary of the cluster has replication id `id` now: then it
   * has had it since it wrote a topic under it (Redis gives a primary a new
   * id when it is promoted or restarts, never an old one back).
   */
  async #isLivePrimary (id: string): Promise<boolean> {
    let lookup = this.#lineageLookups.get(id)
    if (lookup === undefined) {
      lookup = Promise.all(this.#cluster.nodes('master').map(async (node) => await node.info('replication').catch(() => '')))
        .then((infos) => id !== '' && infos.some((info) => /^role:master\r?$/m.test(info) && new RegExp(`^master_replid:${id}\r?$`, 'm').test(info)))
        .finally(() => { this.#lineageLookups.delete(id) })
      this.#lineageLookups.set(id, lookup)
    }
    return await lookup
  }

  #retained (topic: string, entries: string[]): Retained[] {
    return decodeRetained(entries, Date.now() - this.#historyTtlOf(topic))
  }

  #historyTtlOf (topic: string): number {
    return this.#namespaces?.resolve(topic)?.historyTtl ?? this.#historyTtl
  }

  /** Seq and epoch of each topic; seq 0 and no epoch ('') where the key is gone. */
  async #metas (topics: string[]): Promise<Map<string, { seq: number, epoch: string }>> {
    const replies = await Promise.all(topics.map(async (topic) => await this.#redis(async () =>
      await this.#cluster.hmget(this.#key(groupOf(topic), 'meta', topic), 'seq', 'epoch'))))
    return new Map(topics.map((topic, i) => {
      const [seq, epoch] = replies[i] as Array<string | null>
      return [topic, { seq: Number(seq ?? 0), epoch: epoch ?? '' }]
    }))
  }

  /** Every `heartbeat`: rewrites this node's presence and keeps the sequences of locally subscribed topics alive. */
  async #beat (): Promise<void> {
    // Not attached yet (whenConnected before the broker): no subscriptions to tell of.
    if (this.#link === undefined) return
    try {
      const multi = this.#cluster.multi()
      this.presence.refresh(multi)
      await Promise.all([
        multi.exec(),
        ...[...this.#local.topicNames.from('', undefined)].map(async (topic) => await this.#cluster.pexpire(this.#key(groupOf(topic), 'meta', topic), this.#metaTtl))
      ])
    } catch (err) {
      this.#failed(err as Error)
    }
  }

  #failed (err: Error): string {
    if (err.name === 'ReplyError' || err.message === 'Command timed out') return FAILED
    this.#reachability.failed(err.message)
    return NOT_CONNECTED
  }

  async #redis<T> (call: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new PUBSUB_ERR_UNAVAILABLE('engine is closed')
    try {
      return await call()
    } catch (err) {
      throw new PUBSUB_ERR_UNAVAILABLE(this.#failed(err as Error))
    }
  }
}

/** A topic's or pattern's first token. */
function firstToken (key: string): string {
  const dot = key.indexOf('.')
  return dot === -1 ? key : key.slice(0, dot)
}

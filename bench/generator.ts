// The load generator: a process of its own (pinned to its own core by
// bench/run.ts). It opens the subscribers and publishers of one scenario
// against one server, runs a warm-up and a measured phase, and prints one JSON
// line with what it measured. The server's CPU comes from /proc.
import autocannon from 'autocannon'
import hdr from 'hdr-histogram-js'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { connectClient, type BenchClient, type ServerKind } from './lib/clients.js'
import { childPids, cpuMicros, kernelSocketBytes, rssBytes, socketInodes } from './lib/proc.js'
import { connectionsWithin, openFilesLimit } from '../src/transport/open-files.js'

export interface FanoutConfig {
  mode: 'fanout'
  kind: ServerKind
  url: string
  serverPid: number
  /** Subscriber connections; subscriber j takes topic j % topics. */
  subscribers: number
  /** Several nodes of one deployment: subscriber j connects to urls[j % urls.length]; the publisher to `url`. */
  urls?: string[]
  /** More processes whose CPU counts as the server's (the other nodes, Redis). */
  extraPids?: number[]
  /** Redis processes whose CPU is reported apart, per publish. */
  redisPids?: number[]
  topics: number
  /** Subscribe through this pattern prefix instead (`bench.*`); only where the server has wildcards. */
  pattern?: string
  /** Unrelated patterns held by one extra connection (the wildcard scenario). */
  unrelatedPatterns?: number
  /** Publishes per second, or 0 for as fast as the slowest subscriber keeps up. */
  rate: number
  payloadBytes: number
  durationMs: number
}

export interface IdleConfig {
  mode: 'idle'
  kind: ServerKind
  url: string
  serverPid: number
  /** The server is a node:cluster primary: its workers' RSS counts too. */
  hasWorkers?: boolean
  /** A redis-server whose RSS is reported apart. */
  redisPid?: number
  /** All of them subscribed, the publisher among them. */
  connections: number
}

/** One of the idle mode's child processes: connections [first, first + count). */
interface IdleShardConfig {
  mode: 'idle-shard'
  kind: ServerKind
  url: string
  first: number
  count: number
  addresses: string[]
}

export interface RestConfig {
  mode: 'rest'
  kind: ServerKind
  /** http://host:port */
  url: string
  serverPid: number
  subscribers: number
  durationMs: number
}

export type GeneratorConfig = FanoutConfig | IdleConfig | IdleShardConfig | RestConfig

export interface FanoutResult {
  published: number
  expected: number
  received: number
  lost: number
  deliveriesPerSec: number
  latencyUs: { p50: number, p99: number, max: number }
  serverCpuUs: number
  cpuPerDeliveryUs: number
  serverCpuPct: number
  generatorCpuPct: number
  wallMs: number
  /** With `redisPids`: their CPU per message published. */
  redisCpuPerPublishUs?: number
}

const WARMUP_MS = 1000
/** How long a phase may wait for its last deliveries before counting the rest lost. */
const DRAIN_MS = 5000
/** In-flight deliveries when publishing as fast as possible: enough to keep any server here busy. */
const WINDOW_DELIVERIES = 100_000

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * Opens `n` connections, 200 at a time, over up to four loopback source
 * addresses (or the `addresses` given): one address has about 28,000
 * ephemeral ports (net.ipv4.ip_local_port_range), and those of a previous
 * run linger in TIME_WAIT for a minute.
 */
async function openMany (n: number, open: (i: number, localAddress: string | undefined) => Promise<BenchClient>, addresses: Array<string | undefined> = n > 8000 ? ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] : [undefined]): Promise<BenchClient[]> {
  const clients: BenchClient[] = new Array(n)
  let next = 0
  async function worker (): Promise<void> {
    while (next < n) {
      const i = next++
      clients[i] = await open(i, addresses[i % addresses.length])
    }
  }
  await Promise.all(Array.from({ length: Math.min(200, n) }, worker))
  return clients
}

// Every payload is {"i":<index>,"t":<send time, ms>,"p":"<padding>"}: found and read
// in place, whatever protocol wraps it.
const MARK = Buffer.from('{"i":')
const T_MARK = Buffer.from(',"t":')

/** The decimal number at `data[at]`, and the offset after it. */
function readNumber (data: Buffer, at: number): [number, number] {
  let value = 0
  let scale = 0
  for (;; at++) {
    const c = data[at] as number
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30)
      if (scale > 0) scale *= 10
    } else if (c === 0x2e) {
      scale = 1
    } else {
      return [scale > 0 ? value / scale : value, at]
    }
  }
}

function payloadOf (i: number, bytes: number): string {
  const head = `{"i":${i},"t":${(performance.timeOrigin + performance.now()).toFixed(3)},"p":"`
  return head + 'x'.repeat(Math.max(0, bytes - head.length - 2)) + '"}'
}

async function fanout (config: FanoutConfig): Promise<FanoutResult> {
  const perMessage = config.subscribers / config.topics
  const window = Math.max(1, Math.min(5000, Math.floor(WINDOW_DELIVERIES / perMessage)))
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 })
  // Receipts per message index (a ring: at most WINDOW_DELIVERIES are in
  // flight), to know when a message reached every subscriber.
  const receipts = new Uint32Array(1 << 20)
  const RING = receipts.length - 1
  let measureFrom = Infinity
  let received = 0
  let completed = 0
  let wake: (() => void) | undefined

  function onDelivery (data: Buffer, start: number, end: number): void {
    const at = data.indexOf(MARK, start)
    if (at === -1 || at >= end) return
    const [i, afterI] = readNumber(data, at + MARK.length)
    const [sentAt] = readNumber(data, afterI + T_MARK.length)
    const slot = i & RING
    const count = (receipts[slot] as number) + 1
    receipts[slot] = count === perMessage ? 0 : count
    if (count === perMessage) {
      completed++
      wake?.()
    }
    if (i >= measureFrom) {
      received++
      histogram.recordValue(Math.max(1, Math.round((performance.timeOrigin + performance.now() - sentAt) * 1000)))
    }
  }

  const subscribers = await openMany(config.subscribers, async (j, localAddress) => {
    const url = config.urls?.[j % config.urls.length] ?? config.url
    const client = await connectClient({ kind: config.kind, url, onDelivery, localAddress })
    await client.subscribe(config.pattern ?? `bench.${j % config.topics}`)
    return client
  })
  const extra: BenchClient[] = []
  if (config.unrelatedPatterns !== undefined && config.unrelatedPatterns > 0) {
    const holder = await connectClient({ kind: config.kind, url: config.url, onDelivery () {} })
    extra.push(holder)
    for (let k = 0; k < config.unrelatedPatterns; k++) await holder.subscribe(`other${k % 100}.t${k}.*`)
  }
  const publisher = await connectClient({ kind: config.kind, url: config.url, onDelivery () {} })

  let published = 0
  async function phase (durationMs: number): Promise<void> {
    const start = performance.now()
    const end = start + durationMs
    const startIndex = published
    if (config.rate > 0) {
      while (performance.now() < end) {
        const due = Math.floor((performance.now() - start) * config.rate / 1000)
        while (published - startIndex < due) {
          publisher.publish(`bench.${published % config.topics}`, payloadOf(published, config.payloadBytes))
          published++
        }
        await sleep(1)
      }
    } else {
      while (performance.now() < end) {
        while (published - completed < window) {
          publisher.publish(`bench.${published % config.topics}`, payloadOf(published, config.payloadBytes))
          published++
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000)
          wake = () => { clearTimeout(timer); wake = undefined; resolve() }
        })
      }
    }
    // Drain: wait until every message reached every subscriber, or give up.
    const drainEnd = performance.now() + DRAIN_MS
    // eslint-disable-next-line no-unmodified-loop-condition -- the clients' handlers move `completed`
    while (completed < published && performance.now() < drainEnd) await sleep(5)
  }

  await phase(WARMUP_MS)
  receipts.fill(0)
  completed = published
  measureFrom = published
  const serverPids = [config.serverPid, ...(config.extraPids ?? [])]
  const serverCpu = (): number => serverPids.reduce((sum, pid) => sum + cpuMicros(pid), 0)
  const redisCpu = (): number => (config.redisPids ?? []).reduce((sum, pid) => sum + cpuMicros(pid), 0)
  const cpuBefore = serverCpu()
  const redisBefore = redisCpu()
  const ownBefore = process.cpuUsage()
  const wallStart = performance.now()
  await phase(config.durationMs)
  const wallMs = performance.now() - wallStart
  const serverCpuUs = serverCpu() - cpuBefore
  const redisCpuUs = redisCpu() - redisBefore
  const own = process.cpuUsage(ownBefore)

  const expected = (published - measureFrom) * perMessage
  for (const client of [...subscribers, ...extra, publisher]) client.close()
  return {
    published: published - measureFrom,
    expected,
    received,
    lost: expected - received,
    deliveriesPerSec: Math.round(received / (wallMs / 1000)),
    latencyUs: {
      p50: histogram.getValueAtPercentile(50),
      p99: histogram.getValueAtPercentile(99),
      max: histogram.maxValue
    },
    serverCpuUs,
    cpuPerDeliveryUs: received === 0 ? NaN : serverCpuUs / received,
    serverCpuPct: Math.round(serverCpuUs / (wallMs * 10)),
    generatorCpuPct: Math.round((own.user + own.system) / (wallMs * 10)),
    wallMs: Math.round(wallMs),
    ...(config.redisPids === undefined ? {} : { redisCpuPerPublishUs: redisCpuUs / (published - measureFrom) })
  }
}

/** RSS after the server collected garbage (Node servers take SIGUSR2 for it: bench/lib/gc-on-signal.ts). */
async function settledRss (pid: number, kind: ServerKind): Promise<number> {
  if (kind === 'fastify-pubsub' || kind === 'raw-ws' || kind === 'socket.io') {
    process.kill(pid, 'SIGUSR2')
    await sleep(500)
  }
  return rssBytes(pid)
}

// The idle mode: `connections` subscribed connections, each to a topic of its
// own and to one shared topic, opened by child processes (each under its own
// open-files limit, as the server's workers are) over 16 loopback source
// addresses; then the RSS they cost the server, and a few publishes to the
// shared topic, each once the previous one reached everyone.
const IDLE_ALL = 'idle.all'
const IDLE_PUBLISHES = 5
/** How long one publish may take to reach everyone before the rest count as lost. */
const IDLE_DELIVERY_MS = 10_000
/** Attempts of one connection refused with 503 before the run fails. */
const IDLE_ATTEMPTS = 50
const IDLE_ADDRESSES = Array.from({ length: 16 }, (_, k) => `127.0.0.${k + 1}`)

/** Microseconds of the system's monotonic clock: the same in every process of the machine. */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

/** A shard's connections are all open and subscribed; `refused`: upgrades answered 503 and tried again. */
interface ShardReady { type: 'ready', startUs: number, endUs: number, refused: number }

type ShardMessage =
  | ShardReady
  | { type: 'done', i: number }
  | { type: 'report', latenciesUs: number[] }
  | { type: 'error', message: string }

interface IdleResult {
  connections: number
  generatorProcesses: number
  serverProcesses: number
  rssBeforeBytes: number
  rssAfterBytes: number
  rssPerConnectionBytes: number
  /** The primary's and each worker's, before and after. */
  rssPerProcessBytes: { before: number[], after: number[] }
  redisRssBeforeBytes?: number
  redisRssAfterBytes?: number
  /** Kernel slab and TCP buffer growth per socket (both ends of each connection are on this machine). */
  kernelPerSocketBytes: number
  connectMs: number
  connectPerSec: number
  /** Upgrades refused with 503 (a worker at its maxConnections) and tried again. */
  refused: number
  /** Sockets each server process holds (the workers' share of the connections). */
  socketsPerProcess: number[]
  publishes: number
  expected: number
  received: number
  lost: number
  publishLatencyUs: { p50: number, p99: number, max: number }
}

/** RSS of the server's processes (the primary and its workers) after each collected garbage. */
async function serverRss (config: IdleConfig): Promise<{ bytes: number, processes: number, perProcess: number[] }> {
  const pids = [config.serverPid, ...(config.hasWorkers === true ? childPids(config.serverPid) : [])]
  const perProcess: number[] = []
  for (const pid of pids) perProcess.push(await settledRss(pid, config.kind))
  return { bytes: perProcess.reduce((sum, bytes) => sum + bytes, 0), processes: pids.length, perProcess }
}

async function idle (config: IdleConfig): Promise<IdleResult> {
  const before = await serverRss(config)
  const redisRssBeforeBytes = config.redisPid === undefined ? undefined : rssBytes(config.redisPid)
  const kernelBefore = kernelSocketBytes()

  // Connection 0 is the publisher, here; the others are split over shards
  // that each hold what this process's open-files limit allows, as the
  // server's rule does (its own descriptors come out of the 500 spare).
  const perShard = connectionsWithin(openFilesLimit())
  const others = config.connections - 1
  const shardCount = Math.max(1, Math.ceil(others / perShard))
  const script = fileURLToPath(import.meta.url)
  const shards: ChildProcess[] = []
  const done = new Array<number>(IDLE_PUBLISHES).fill(0)
  let wake: (() => void) | undefined
  const readies: Array<Promise<ShardReady>> = []
  const reports: Array<Promise<number[]>> = []
  for (let k = 0, first = 1; k < shardCount; k++) {
    const count = Math.floor(others / shardCount) + (k < others % shardCount ? 1 : 0)
    const shardConfig: IdleShardConfig = { mode: 'idle-shard', kind: config.kind, url: config.url, first, count, addresses: IDLE_ADDRESSES.filter((_, a) => a % shardCount === k) }
    first += count
    const shard = fork(script, [JSON.stringify(shardConfig)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    shards.push(shard)
    let ready: (value: ShardReady) => void = () => {}
    let report: (value: number[]) => void = () => {}
    const failed = new Promise<never>((_resolve, reject) => {
      shard.on('message', (message: ShardMessage) => {
        if (message.type === 'error') reject(new Error(`shard ${k}: ${message.message}`))
      })
      shard.once('exit', (code) => reject(new Error(`shard ${k} exited with ${code}`)))
    })
    const readied = Promise.race([new Promise<ShardReady>((resolve) => { ready = resolve }), failed])
    const reported = Promise.race([new Promise<number[]>((resolve) => { report = resolve }), failed])
    // Awaited later, in turn: a shard's failure must not be an unhandled rejection meanwhile.
    for (const promise of [failed, readied, reported]) promise.catch(() => {})
    readies.push(readied)
    reports.push(reported)
    shard.on('message', (message: ShardMessage) => {
      if (message.type === 'ready') ready(message)
      else if (message.type === 'done') { done[message.i] = (done[message.i] as number) + 1; wake?.() } else if (message.type === 'report') report(message.latenciesUs)
    })
  }
  try {
    const publisherStartUs = nowUs()
    const publisher = await connectClient({ kind: config.kind, url: config.url, onDelivery () {} })
    await publisher.subscribe('idle.0')
    const publisherEndUs = nowUs()
    const spans = await Promise.all(readies)
    const startUs = Math.min(publisherStartUs, ...spans.map((s) => s.startUs))
    const endUs = Math.max(publisherEndUs, ...spans.map((s) => s.endUs))
    const connectMs = (endUs - startUs) / 1000

    const after = await serverRss(config)
    const redisRssAfterBytes = config.redisPid === undefined ? undefined : rssBytes(config.redisPid)
    const kernelPerSocketBytes = Math.round((kernelSocketBytes() - kernelBefore) / (2 * config.connections))
    const serverPids = [config.serverPid, ...(config.hasWorkers === true ? childPids(config.serverPid) : [])]
    const socketsPerProcess = serverPids.map((pid) => socketInodes(pid).size)

    for (let i = 0; i < IDLE_PUBLISHES; i++) {
      publisher.publish(IDLE_ALL, `{"i":${i},"t":${nowUs()}}`)
      const deadline = performance.now() + IDLE_DELIVERY_MS
      while ((done[i] as number) < shardCount && performance.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100)
          wake = () => { clearTimeout(timer); wake = undefined; resolve() }
        })
      }
    }
    for (const shard of shards) shard.send('report')
    const latencies = (await Promise.all(reports)).flat()
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 })
    for (const us of latencies) histogram.recordValue(Math.max(1, us))
    publisher.close()
    const expected = others * IDLE_PUBLISHES
    return {
      connections: config.connections,
      generatorProcesses: shardCount + 1,
      serverProcesses: after.processes,
      rssBeforeBytes: before.bytes,
      rssAfterBytes: after.bytes,
      rssPerConnectionBytes: Math.round((after.bytes - before.bytes) / config.connections),
      rssPerProcessBytes: { before: before.perProcess, after: after.perProcess },
      ...(redisRssBeforeBytes === undefined ? {} : { redisRssBeforeBytes, redisRssAfterBytes }),
      kernelPerSocketBytes,
      connectMs: Math.round(connectMs),
      connectPerSec: Math.round(config.connections / (connectMs / 1000)),
      refused: spans.reduce((sum, span) => sum + span.refused, 0),
      socketsPerProcess,
      publishes: IDLE_PUBLISHES,
      expected,
      received: latencies.length,
      lost: expected - latencies.length,
      publishLatencyUs: { p50: histogram.getValueAtPercentile(50), p99: histogram.getValueAtPercentile(99), max: histogram.maxValue }
    }
  } finally {
    for (const shard of shards) {
      if (shard.exitCode !== null) continue
      const exited = once(shard, 'exit')
      shard.kill('SIGTERM')
      await exited
    }
  }
}

/** A child of the idle mode: opens its connections, says when they are subscribed, reports each shared publish once all of them got it. */
async function idleShard (config: IdleShardConfig): Promise<void> {
  const send = (message: ShardMessage): void => { process.send?.(message) }
  const counts = new Array<number>(IDLE_PUBLISHES).fill(0)
  const latenciesUs: number[] = []
  function onDelivery (data: Buffer, start: number, end: number): void {
    const receivedUs = nowUs()
    const at = data.indexOf(MARK, start)
    if (at === -1 || at >= end) return
    const [i, afterI] = readNumber(data, at + MARK.length)
    const [sentUs] = readNumber(data, afterI + T_MARK.length)
    latenciesUs.push(receivedUs - sentUs)
    counts[i] = (counts[i] as number) + 1
    if (counts[i] === config.count) send({ type: 'done', i })
  }
  process.on('message', (message) => {
    if (message === 'report') send({ type: 'report', latenciesUs })
  })
  // node:cluster's round-robin hands a connection to whichever worker is
  // free, not strictly in turn: with --workers 2 at 2 x maxConnections, one
  // worker may be full before the other, and its 503 is what a client gets
  // and retries (the next attempt goes to a worker with room).
  let refused = 0
  async function connect (localAddress: string | undefined): Promise<BenchClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await connectClient({ kind: config.kind, url: config.url, onDelivery, localAddress })
      } catch (err) {
        if (!(err as Error).message.includes(' 503 ') || attempt === IDLE_ATTEMPTS) throw err
        refused++
        await sleep(10)
      }
    }
  }
  try {
    const startUs = nowUs()
    await openMany(config.count, async (j, localAddress) => {
      const client = await connect(localAddress)
      await client.subscribe(`idle.${config.first + j}`)
      await client.subscribe(IDLE_ALL)
      return client
    }, config.addresses)
    send({ type: 'ready', startUs, endUs: nowUs(), refused })
  } catch (err) {
    send({ type: 'error', message: (err as Error).message })
    process.exit(1)
  }
  // Held open until the idle mode ends it (SIGTERM).
}

async function rest (config: RestConfig): Promise<{ requestsPerSec: number, errors: number, non2xx: number, received: number, serverCpuPct: number }> {
  let received = 0
  const wsUrl = config.url.replace(/^http/, 'ws')
  const subscribers = await openMany(config.subscribers, async () => {
    const client = await connectClient({ kind: 'fastify-pubsub', url: wsUrl, onDelivery () { received++ } })
    await client.subscribe('bench.0')
    return client
  })
  const options = {
    url: `${config.url}/publish/bench.0`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ t: 0, p: 'x'.repeat(40) }),
    connections: 32,
    pipelining: 1
  }
  await autocannon({ ...options, duration: 1 })
  const cpuBefore = cpuMicros(config.serverPid)
  const started = performance.now()
  const result = await autocannon({ ...options, duration: config.durationMs / 1000 })
  const wallMs = performance.now() - started
  const serverCpuPct = Math.round((cpuMicros(config.serverPid) - cpuBefore) / (wallMs * 10))
  for (const client of subscribers) client.close()
  return { requestsPerSec: Math.round(result.requests.average), errors: result.errors, non2xx: result.non2xx, received, serverCpuPct }
}

const config = JSON.parse(process.argv[2] as string) as GeneratorConfig
if (config.mode === 'idle-shard') {
  await idleShard(config)
} else {
  const result = config.mode === 'fanout' ? await fanout(config) : config.mode === 'idle' ? await idle(config) : await rest(config)
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}

// The load generator: a process of its own (pinned to its own core by
// bench/run.ts). It opens the subscribers and publishers of one scenario
// against one server, runs a warm-up and a measured phase, and prints one JSON
// line with what it measured. The server's CPU comes from /proc.
import autocannon from 'autocannon'
import hdr from 'hdr-histogram-js'
import { performance } from 'node:perf_hooks'
import { connectClient, type BenchClient, type ServerKind } from './lib/clients.js'
import { cpuMicros, rssBytes } from './lib/proc.js'

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
  connections: number
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

export type GeneratorConfig = FanoutConfig | IdleConfig | RestConfig

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
}

const WARMUP_MS = 1000
/** How long a phase may wait for its last deliveries before counting the rest lost. */
const DRAIN_MS = 5000
/** In-flight deliveries when publishing as fast as possible: enough to keep any server here busy. */
const WINDOW_DELIVERIES = 100_000

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Opens `n` connections, `concurrency` at a time, over up to four loopback source addresses. */
async function openMany (n: number, open: (i: number, localAddress: string | undefined) => Promise<BenchClient>): Promise<BenchClient[]> {
  const clients: BenchClient[] = new Array(n)
  let next = 0
  const spread = n > 8000
  async function worker (): Promise<void> {
    while (next < n) {
      const i = next++
      clients[i] = await open(i, spread ? `127.0.0.${1 + (i % 4)}` : undefined)
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
  const cpuBefore = serverCpu()
  const ownBefore = process.cpuUsage()
  const wallStart = performance.now()
  await phase(config.durationMs)
  const wallMs = performance.now() - wallStart
  const serverCpuUs = serverCpu() - cpuBefore
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
    wallMs: Math.round(wallMs)
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

async function idle (config: IdleConfig): Promise<{ connections: number, rssBeforeBytes: number, rssAfterBytes: number, rssPerConnectionBytes: number }> {
  const rssBeforeBytes = await settledRss(config.serverPid, config.kind)
  const clients = await openMany(config.connections, async (j, localAddress) => {
    const client = await connectClient({ kind: config.kind, url: config.url, onDelivery () {}, localAddress })
    await client.subscribe(`idle.${j}`)
    return client
  })
  const rssAfterBytes = await settledRss(config.serverPid, config.kind)
  for (const client of clients) client.close()
  return { connections: config.connections, rssBeforeBytes, rssAfterBytes, rssPerConnectionBytes: Math.round((rssAfterBytes - rssBeforeBytes) / config.connections) }
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
const result = config.mode === 'fanout' ? await fanout(config) : config.mode === 'idle' ? await idle(config) : await rest(config)
process.stdout.write(JSON.stringify(result) + '\n')
process.exit(0)

// `npm run bench`: every scenario against every server it applies to, side by
// side in one run, then docs/performance.md and docs/performance.svg.
// Servers run pinned to core 0, the load generator to core 1.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { brokerBench } from './broker.js'
import type { FanoutConfig, FanoutResult, GeneratorConfig } from './generator.js'
import type { ServerKind } from './lib/clients.js'
import { renderReport, type Row } from './lib/report.js'
import { launch, pinned, type LaunchKind, type Running } from './lib/servers.js'

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5000)
const ONLY = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY)
const ALL: ServerKind[] = ['fastify-pubsub', 'raw-ws', 'socket.io', 'mosquitto', 'nats']
const OURS_AND_REF: ServerKind[] = ['fastify-pubsub', 'raw-ws']
/** Where the targets name nats-server as the bar to reach. */
const OURS_REF_AND_NATS: ServerKind[] = ['fastify-pubsub', 'raw-ws', 'nats']

interface Scenario {
  name: string
  servers: LaunchKind[]
  config: (server: Running) => GeneratorConfig
}

function fanout (name: string, servers: LaunchKind[], shape: Omit<FanoutConfig, 'mode' | 'kind' | 'url' | 'serverPid' | 'durationMs'>): Scenario {
  return {
    name,
    servers,
    config: ({ url, urls, pid, extraPids, redisPids, kind }) => ({
      mode: 'fanout',
      // Every variant of ours speaks fastify-pubsub's protocol.
      kind: kind.startsWith('fastify-pubsub') ? 'fastify-pubsub' : kind as ServerKind,
      url,
      urls,
      serverPid: pid,
      extraPids,
      redisPids,
      durationMs: DURATION_MS,
      ...shape
    })
  }
}

/** `connections` subscribed connections (19,500: what this machine's 20,000 open files per process hold). */
function idle (name: string, servers: LaunchKind[], connections: number): Scenario {
  return {
    name,
    servers,
    config: ({ url, pid, kind, hasWorkers, redisPid }) => ({
      mode: 'idle',
      kind: kind.startsWith('fastify-pubsub') ? 'fastify-pubsub' : kind as ServerKind,
      url,
      serverPid: pid,
      hasWorkers,
      redisPid,
      connections
    })
  }
}

const CLUSTER: LaunchKind[] = ['fastify-pubsub', 'fastify-pubsub x2 (Redis)']
const METRICS: LaunchKind[] = ['fastify-pubsub', 'fastify-pubsub (metrics off)']
/** One node on each engine: the Redis path's cost beside memory's (issue 16). */
const ENGINES: LaunchKind[] = ['fastify-pubsub', 'fastify-pubsub (Redis)', 'fastify-pubsub (Redis Cluster, 3 shards)']

const scenarios: Scenario[] = [
  fanout('heavy fan-out: 1,000 subs x 500/s, 64 B', ALL, { subscribers: 1000, topics: 1, rate: 500, payloadBytes: 64 }),
  fanout('light fan-out: 100 subs x 500/s, 64 B', ALL, { subscribers: 100, topics: 1, rate: 500, payloadBytes: 64 }),
  fanout('fan-out: 1,000 subs x 500/s, 1 KiB', OURS_AND_REF, { subscribers: 1000, topics: 1, rate: 500, payloadBytes: 1024 }),
  fanout('fan-out: 1,000 subs x 100/s, 64 B', OURS_AND_REF, { subscribers: 1000, topics: 1, rate: 100, payloadBytes: 64 }),
  fanout('fan-out: 1,000 subs x 250/s, 64 B', OURS_AND_REF, { subscribers: 1000, topics: 1, rate: 250, payloadBytes: 64 }),
  fanout('fan-out: 1,000 subs x 1,000/s, 64 B', OURS_AND_REF, { subscribers: 1000, topics: 1, rate: 1000, payloadBytes: 64 }),
  fanout('max rate: 1,000 subs, 64 B', ALL, { subscribers: 1000, topics: 1, rate: 0, payloadBytes: 64 }),
  fanout('max rate: 100 subs, 64 B', OURS_REF_AND_NATS, { subscribers: 100, topics: 1, rate: 0, payloadBytes: 64 }),
  fanout('scale-out: max rate, 1,000 subs on 2 nodes, 64 B', CLUSTER, { subscribers: 1000, topics: 1, rate: 0, payloadBytes: 64 }),
  fanout('scale-out: 1,000 subs x 500/s on 2 nodes, 64 B', CLUSTER, { subscribers: 1000, topics: 1, rate: 500, payloadBytes: 64 }),
  fanout('metrics cost: max rate, 1,000 subs, 64 B', METRICS, { subscribers: 1000, topics: 1, rate: 0, payloadBytes: 64 }),
  fanout('metrics cost: max rate, 1,000 topics x 1 sub, 64 B', METRICS, { subscribers: 1000, topics: 1000, rate: 0, payloadBytes: 64 }),
  fanout('many topics: 1,000 x 1 sub, max rate', OURS_REF_AND_NATS, { subscribers: 1000, topics: 1000, rate: 0, payloadBytes: 64 }),
  // Most apps' shape at a rate every server keeps up with: each message's own cost, not a burst's.
  fanout('many topics: 1,000 x 1 sub, 5,000/s', OURS_REF_AND_NATS, { subscribers: 1000, topics: 1000, rate: 5000, payloadBytes: 64 }),
  fanout('engines: many topics, 1,000 x 1 sub, max rate', ENGINES, { subscribers: 1000, topics: 1000, rate: 0, payloadBytes: 64 }),
  fanout('engines: many topics, 1,000 x 1 sub, 5,000/s', ENGINES, { subscribers: 1000, topics: 1000, rate: 5000, payloadBytes: 64 }),
  fanout('wildcards: 100 subs on bench.*, 1,000/s', ['fastify-pubsub'], { subscribers: 100, topics: 1, pattern: 'bench.*', rate: 1000, payloadBytes: 64 }),
  fanout('wildcards: 100 subs on bench.*, 1,000/s, +10,000 unrelated patterns', ['fastify-pubsub'], { subscribers: 100, topics: 1, pattern: 'bench.*', unrelatedPatterns: 10_000, rate: 1000, payloadBytes: 64 }),
  {
    name: 'REST publish, no subscribers',
    servers: ['bare-fastify', 'fastify-pubsub'],
    config: ({ url, pid, kind }) => ({ mode: 'rest', kind: kind as ServerKind, url: url.replace(/^ws/, 'http'), serverPid: pid, subscribers: 0, durationMs: DURATION_MS })
  },
  {
    name: 'REST publish, 100 subscribers',
    servers: ['fastify-pubsub'],
    config: ({ url, pid, kind }) => ({ mode: 'rest', kind: kind as ServerKind, url: url.replace(/^ws/, 'http'), serverPid: pid, subscribers: 100, durationMs: DURATION_MS })
  },
  ...[5000, 19_500].map((connections) => idle(`idle: ${connections.toLocaleString('en')} subscribed connections`, OURS_AND_REF, connections)),
  // Each worker is a process under its own open-files limit: 2 x 19,500.
  idle('idle: 39,000 subscribed connections, --workers 2 on Redis', ['fastify-pubsub --workers 2 (Redis)'], 39_000)
]

async function generate (config: GeneratorConfig): Promise<Record<string, unknown>> {
  const [file, ...args] = pinned(1, [process.execPath, 'dist-bench/bench/generator.js', JSON.stringify(config)])
  const child = spawn(file as string, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += String(chunk) })
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearTimeout(timer)
  const last = out.trim().split('\n').at(-1) ?? ''
  if (code !== 0 || !last.startsWith('{')) throw new Error(`generator exited with ${code}: ${out.slice(-500)}`)
  return JSON.parse(last) as Record<string, unknown>
}

const started = Date.now()
const rows: Row[] = []
if (ONLY === undefined || ONLY.test('broker')) {
  for (const result of await brokerBench()) {
    rows.push({ scenario: `in-process: ${result.name}`, server: 'fastify-pubsub', result: { nsPerPublish: result.nsPerPublish } })
    process.stderr.write(`in-process: ${result.name} | ${Math.round(result.nsPerPublish)} ns/publish\n`)
  }
}
for (const scenario of scenarios) {
  if (ONLY !== undefined && !ONLY.test(scenario.name)) continue
  for (const kind of scenario.servers) {
    const server = await launch(kind, 0)
    try {
      const result = await generate(scenario.config(server))
      rows.push({ scenario: scenario.name, server: kind, result })
      process.stderr.write(`${scenario.name} | ${kind} | ${JSON.stringify(result)}\n`)
    } catch (err) {
      rows.push({ scenario: scenario.name, server: kind, error: (err as Error).message.split('\n')[0] })
      process.stderr.write(`${scenario.name} | ${kind} | FAILED ${(err as Error).message}\n`)
    } finally {
      await server.stop()
    }
  }
}
const elapsedS = Math.round((Date.now() - started) / 1000)
const { markdown, svg } = renderReport(rows, { durationMs: DURATION_MS, elapsedS })
process.stdout.write(markdown)
if (ONLY === undefined) {
  writeFileSync('docs/performance.md', markdown)
  writeFileSync('docs/performance.svg', svg)
  process.stderr.write('wrote docs/performance.md and docs/performance.svg\n')
}
export type { FanoutResult }

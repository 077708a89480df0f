// Starts each server under test in a process of its own, pinned to one core,
// on free loopback ports, with generated configs where it needs one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ServerKind } from './clients.js'
import { childPids, socketInodes } from './proc.js'

/**
 * `fastify-pubsub x2 (Redis)`: two nodes and a redis-server, all on the
 * server core. `fastify-pubsub --workers 2 (Redis)`: one standalone server
 * with WORKERS=2 (a node:cluster primary and two workers sharing the port)
 * and a redis-server, all on the server core. `fastify-pubsub (metrics off)`:
 * METRICS=false, for the cost of metrics on the fan-out path.
 * `fastify-pubsub (Redis)` and `fastify-pubsub (Redis Cluster, 3 shards)`:
 * one node on a fresh redis-server, or on a fresh cluster of three primaries
 * (no replicas), all on the server core; Redis's CPU is reported apart
 * (`redisPids`), so that the node's own compares with the in-memory engine's.
 */
export type LaunchKind = ServerKind | 'bare-fastify' | 'fastify-pubsub x2 (Redis)' | 'fastify-pubsub --workers 2 (Redis)' | 'fastify-pubsub (metrics off)' | 'fastify-pubsub (Redis)' | 'fastify-pubsub (Redis Cluster, 3 shards)'
type Composite = 'fastify-pubsub x2 (Redis)' | 'fastify-pubsub --workers 2 (Redis)' | 'fastify-pubsub (metrics off)' | 'fastify-pubsub (Redis)' | 'fastify-pubsub (Redis Cluster, 3 shards)'

export interface Running {
  kind: LaunchKind
  pid: number
  /** ws://127.0.0.1:port for WebSocket servers, http:// for HTTP ones. */
  url: string
  /** Every node's URL, for a deployment of several. */
  urls?: string[]
  /** The other processes of a deployment (nodes, Redis), whose CPU counts too. */
  extraPids?: number[]
  /** `pid` is a node:cluster primary: its workers (its child processes) serve. */
  hasWorkers?: boolean
  /** The deployment's redis-server, whose memory is reported apart. */
  redisPid?: number
  /** Redis processes whose CPU is reported apart (per publish), not as the server's. */
  redisPids?: number[]
  stop: () => Promise<void>
}

export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0

/** A command prefixed to run on one core, where taskset exists. */
export function pinned (core: number, command: string[]): string[] {
  return hasTaskset ? ['taskset', '-c', String(core), ...command] : command
}

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

async function waitForPort (port: number, child: ChildProcess, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** BENCH_CPU_PROF=dir: each Node server writes a CPU profile there when it stops (Node refuses --cpu-prof in NODE_OPTIONS). */
const CPU_PROF = process.env.BENCH_CPU_PROF === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF]

function node (script: string): string[] {
  return [process.execPath, '--expose-gc', ...CPU_PROF, '--import', './dist-bench/bench/lib/gc-on-signal.js', script]
}

export async function launch (kind: LaunchKind, core: number): Promise<Running> {
  if (kind === 'fastify-pubsub x2 (Redis)') return await launchRedisPair(core)
  if (kind === 'fastify-pubsub --workers 2 (Redis)') return await launchWorkers(core, 2)
  if (kind === 'fastify-pubsub (metrics off)') return { ...await launchOne('fastify-pubsub', core, { METRICS: 'false' }), kind }
  if (kind === 'fastify-pubsub (Redis)') return await launchOnRedis(core)
  if (kind === 'fastify-pubsub (Redis Cluster, 3 shards)') return await launchOnCluster(core)
  return await launchOne(kind, core)
}

interface Redis { url: string, pid: number, stop: () => Promise<void> }

/** A fresh redis-server (no persistence) on a free port. */
async function launchRedis (core: number): Promise<Redis> {
  const redisPort = await freePort()
  const [file, ...args] = pinned(core, ['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
  const redis = spawn(file as string, args, { stdio: 'ignore' })
  const stop = async (): Promise<void> => {
    if (redis.exitCode !== null) return
    const exited = once(redis, 'exit')
    redis.kill('SIGTERM')
    await exited
  }
  try {
    await waitForPort(redisPort, redis)
  } catch (err) {
    await stop()
    throw err
  }
  return { url: `redis://127.0.0.1:${redisPort}`, pid: redis.pid as number, stop }
}

/** One fastify-pubsub node on a fresh redis-server. */
async function launchOnRedis (core: number): Promise<Running> {
  const redis = await launchRedis(core)
  try {
    const server = await launchOne('fastify-pubsub', core, { REDIS_URL: redis.url })
    return {
      ...server,
      kind: 'fastify-pubsub (Redis)',
      redisPids: [redis.pid],
      async stop () {
        await server.stop()
        await redis.stop()
      }
    }
  } catch (err) {
    await redis.stop()
    throw err
  }
}

/** A fresh Redis Cluster of three primaries (no replicas), and one fastify-pubsub node on it. */
async function launchOnCluster (core: number): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'))
  const nodes: Array<{ port: number, child: ChildProcess }> = []
  const stopAll = async (): Promise<void> => {
    for (const { child } of nodes) {
      if (child.exitCode !== null) continue
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
  }
  try {
    for (let i = 0; i < 3; i++) {
      const [port, busPort] = [await freePort(), await freePort()]
      const [file, ...args] = pinned(core, ['redis-server', '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--save', '', '--appendonly', 'no', '--dir', dir])
      const child = spawn(file as string, args, { stdio: 'ignore' })
      nodes.push({ port, child })
      await waitForPort(port, child)
    }
    const addresses = nodes.map(({ port }) => `127.0.0.1:${port}`)
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 })
    if (created.status !== 0) throw new Error(`redis-cli --cluster create: ${created.stdout.slice(-300)}`)
    for (const { port } of nodes) {
      for (;;) {
        const info = spawnSync('redis-cli', ['-p', String(port), 'CLUSTER', 'INFO'], { encoding: 'utf8' }).stdout
        if (info.includes('cluster_state:ok')) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    const server = await launchOne('fastify-pubsub', core, { REDIS_CLUSTER_NODES: addresses.join(',') })
    return {
      ...server,
      kind: 'fastify-pubsub (Redis Cluster, 3 shards)',
      redisPids: nodes.map(({ child }) => child.pid as number),
      async stop () {
        await server.stop()
        await stopAll()
      }
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}

/** Two fastify-pubsub nodes sharing a fresh redis-server. */
async function launchRedisPair (core: number): Promise<Running> {
  const redis = await launchRedis(core)
  try {
    const env = { REDIS_URL: redis.url }
    const nodes = [await launchOne('fastify-pubsub', core, env), await launchOne('fastify-pubsub', core, env)]
    const [first, second] = nodes as [Running, Running]
    return {
      kind: 'fastify-pubsub x2 (Redis)',
      pid: first.pid,
      url: first.url,
      urls: [first.url, second.url],
      extraPids: [second.pid, redis.pid],
      async stop () {
        for (const node of nodes) await node.stop()
        await redis.stop()
      }
    }
  } catch (err) {
    await redis.stop()
    throw err
  }
}

/** One standalone server with `--workers n` (WORKERS, docs/configuration.md) on a fresh redis-server. */
async function launchWorkers (core: number, workers: number): Promise<Running> {
  const redis = await launchRedis(core)
  let server: Running | undefined
  try {
    server = await launchOne('fastify-pubsub', core, { WORKERS: String(workers), REDIS_URL: redis.url })
    await workersListening(server.pid, Number(new URL(server.url).port), workers)
    const primary = server
    return {
      ...primary,
      kind: 'fastify-pubsub --workers 2 (Redis)',
      extraPids: [redis.pid],
      hasWorkers: true,
      redisPid: redis.pid,
      async stop () {
        await primary.stop()
        await redis.stop()
      }
    }
  } catch (err) {
    await server?.stop()
    await redis.stop()
    throw err
  }
}

/**
 * Resolves once each of the primary's `workers` children has been handed a
 * connection. The port answers as soon as the first worker listens, and
 * node:cluster's round-robin hands connections only to workers that listen:
 * a run started before the second one is up would put them all on the first.
 * Each probe's server-side socket is found in /proc/net/tcp and then in a
 * worker's open files.
 */
async function workersListening (pid: number, port: number, workers: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  const served = new Set<number>()
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0')
  while (served.size < workers) {
    const probe: Socket = connect(port, '127.0.0.1')
    await once(probe, 'connect')
    const tuple = new RegExp(`^\\s*\\d+: [0-9A-F]+:${hex(port)} [0-9A-F]+:${hex(probe.localPort as number)} (?:\\S+\\s+){6}(\\d+)`, 'm')
    try {
      for (;;) {
        if (Date.now() > deadline) throw new Error(`${served.size} of ${workers} workers took connections after ${ms} ms`)
        const inode = tuple.exec(readFileSync('/proc/net/tcp', 'utf8'))?.[1]
        const holder = inode === undefined || inode === '0' ? undefined : childPids(pid).find((child) => socketInodes(child).has(inode))
        if (holder !== undefined) {
          served.add(holder)
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    } finally {
      probe.destroy()
    }
  }
}

async function launchOne (kind: Exclude<LaunchKind, Composite>, core: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<Running> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...extraEnv }
  let command: string[]
  let url = `ws://127.0.0.1:${port}`
  switch (kind) {
    case 'fastify-pubsub':
      // Limits raised for the 10,000-pattern connection; logs only warnings.
      // MAX_CONNECTIONS is left to its default, the open-files limit less 500
      // (src/transport/open-files.ts): 19,500 under this machine's 20,000, and
      // the idle runs open exactly that many, so they measure what the default
      // admits. Setting it higher would only log a warning and let accept()
      // fail past the limit instead of a clean 503.
      Object.assign(env, { LOG_LEVEL: 'warn', MAX_SUBSCRIPTIONS: '20000', MAX_SUBSCRIPTION_BYTES: String(1 << 20), MAX_BUFFERED_BYTES: String(8 << 20) })
      command = node('dist/server/main.js')
      break
    case 'raw-ws': command = node('dist-bench/bench/servers/raw-ws.js'); break
    case 'socket.io': command = node('dist-bench/bench/servers/socketio.js'); break
    case 'bare-fastify':
      command = node('dist-bench/bench/servers/bare-fastify.js')
      url = `http://127.0.0.1:${port}`
      break
    case 'mosquitto': {
      // mosquitto 2.0.11 will not start with a websockets listener alone (mosquitto#2284).
      const mqttPort = await freePort()
      const conf = join(mkdtempSync(join(tmpdir(), 'bench-mosquitto-')), 'mosquitto.conf')
      writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nlistener ${port}\nprotocol websockets\nallow_anonymous true\nmax_queued_messages 100000\n`)
      command = ['mosquitto', '-c', conf]
      break
    }
    case 'nats': {
      const clientPort = await freePort()
      const conf = join(mkdtempSync(join(tmpdir(), 'bench-nats-')), 'nats.conf')
      writeFileSync(conf, `listen: "127.0.0.1:${clientPort}"\nmax_pending: 67108864\nwebsocket {\n  listen: "127.0.0.1:${port}"\n  no_tls: true\n}\n`)
      command = ['nats-server', '-c', conf]
      break
    }
  }
  const [file, ...args] = pinned(core, command)
  const child = spawn(file as string, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + String(chunk)).slice(-2000) })
  try {
    await waitForPort(port, child)
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`${kind}: ${(err as Error).message}\n${stderr}`)
  }
  return {
    kind,
    pid: child.pid as number,
    url,
    async stop () {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** The version a server reports, for the report's header. */
export function versionOf (kind: LaunchKind): string {
  const read = (command: string, args: string[]): string => {
    const result = spawnSync(command, args, { encoding: 'utf8' })
    return `${result.stdout}${result.stderr}`.split('\n')[0]?.trim() ?? ''
  }
  switch (kind) {
    case 'mosquitto': return read('mosquitto', ['-h']).replace(/^mosquitto version /, '')
    case 'nats': return read('nats-server', ['--version']).replace(/^nats-server: /, '')
    default: return ''
  }
}

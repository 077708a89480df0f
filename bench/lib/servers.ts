// Starts each server under test in a process of its own, pinned to one core,
// on free loopback ports, with generated configs where it needs one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ServerKind } from './clients.js'

/**
 * `fastify-pubsub x2 (Redis)`: two nodes and a redis-server, all on the
 * server core. `fastify-pubsub (metrics off)`: METRICS=false, for the cost of
 * metrics on the fan-out path.
 */
export type LaunchKind = ServerKind | 'bare-fastify' | 'fastify-pubsub x2 (Redis)' | 'fastify-pubsub (metrics off)'

export interface Running {
  kind: LaunchKind
  pid: number
  /** ws://127.0.0.1:port for WebSocket servers, http:// for HTTP ones. */
  url: string
  /** Every node's URL, for a deployment of several. */
  urls?: string[]
  /** The other processes of a deployment (nodes, Redis), whose CPU counts too. */
  extraPids?: number[]
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

function node (script: string): string[] {
  return [process.execPath, '--expose-gc', '--import', './dist-bench/bench/lib/gc-on-signal.js', script]
}

export async function launch (kind: LaunchKind, core: number): Promise<Running> {
  if (kind === 'fastify-pubsub x2 (Redis)') return await launchRedisPair(core)
  if (kind === 'fastify-pubsub (metrics off)') return { ...await launchOne('fastify-pubsub', core, { METRICS: 'false' }), kind }
  return await launchOne(kind, core)
}

/** Two fastify-pubsub nodes sharing a fresh redis-server (no persistence). */
async function launchRedisPair (core: number): Promise<Running> {
  const redisPort = await freePort()
  const [file, ...args] = pinned(core, ['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
  const redis = spawn(file as string, args, { stdio: 'ignore' })
  const stopRedis = async (): Promise<void> => {
    if (redis.exitCode !== null) return
    const exited = once(redis, 'exit')
    redis.kill('SIGTERM')
    await exited
  }
  try {
    await waitForPort(redisPort, redis)
    const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}` }
    const nodes = [await launchOne('fastify-pubsub', core, env), await launchOne('fastify-pubsub', core, env)]
    const [first, second] = nodes as [Running, Running]
    return {
      kind: 'fastify-pubsub x2 (Redis)',
      pid: first.pid,
      url: first.url,
      urls: [first.url, second.url],
      extraPids: [second.pid, redis.pid as number],
      async stop () {
        for (const node of nodes) await node.stop()
        await stopRedis()
      }
    }
  } catch (err) {
    await stopRedis()
    throw err
  }
}

async function launchOne (kind: Exclude<LaunchKind, 'fastify-pubsub x2 (Redis)' | 'fastify-pubsub (metrics off)'>, core: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<Running> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...extraEnv }
  let command: string[]
  let url = `ws://127.0.0.1:${port}`
  switch (kind) {
    case 'fastify-pubsub':
      // Limits raised for the 10,000-pattern connection and the 19,000-connection run; logs only warnings.
      Object.assign(env, { LOG_LEVEL: 'warn', MAX_SUBSCRIPTIONS: '20000', MAX_SUBSCRIPTION_BYTES: String(1 << 20), MAX_CONNECTIONS: '20000', MAX_BUFFERED_BYTES: String(8 << 20) })
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

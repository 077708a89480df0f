// A redis-server of the test's own, on a free port, without persistence, so
// that a test can stop, freeze and restart it. Plus a TCP proxy in front of
// it that can silence what Redis sends on chosen connections.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { eventually } from '../helper.js'

/** Why the Redis tests cannot run here, or false. In CI a missing redis-server is a failure. */
export function redisMissing (): string | false {
  if (spawnSync('redis-server', ['--version']).status === 0) return false
  const why = 'redis-server is not on PATH: apt-get install redis-server'
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(why)
  return why
}

/** A TCP port free on 127.0.0.1 a moment ago (closed again for the caller to bind). */
export async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  return port
}

/** Sends one inline command and resolves with the first reply line. */
export async function command (port: number, line: string): Promise<string> {
  const socket = connectTcp(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    socket.write(`${line}\r\n`)
    const [data] = await once(socket, 'data') as [Buffer]
    return String(data)
  } finally {
    socket.destroy()
  }
}

export class RedisServer {
  readonly port: number
  #process: ChildProcess | undefined
  #persistence = ['--appendonly', 'no']
  #args: string[] = []

  private constructor (port: number) {
    this.port = port
  }

  /**
   * A new server; with `persist`, every write goes to an append-only file
   * (fsync always) in a folder of its own, so that a SIGKILL and restart keep
   * all that was acknowledged, as a Redis with AOF does. `args` go on its
   * command line (`--replicaof host port`).
   */
  static async start (t: Test, options: { persist?: boolean, args?: string[] } = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort())
    server.#args = options.args ?? []
    if (options.persist === true) {
      const dir = mkdtempSync(join(tmpdir(), 'pubsub-redis-'))
      server.#persistence = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
      t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    }
    t.teardown(() => server.stop())
    await server.restart()
    return server
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Starts it (again, on the same port, empty) and waits until it answers. */
  async restart (): Promise<void> {
    this.#process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...this.#persistence, ...this.#args, '--loglevel', 'warning'], { stdio: 'ignore' })
    await eventually(async () => (await command(this.port, 'PING').catch(() => '')).startsWith('+PONG'))
  }

  /** Kills it (SIGKILL: what a crash looks like) and waits for the exit. */
  async stop (): Promise<void> {
    const child = this.#process
    this.#process = undefined
    if (child === undefined || child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  /** Freezes it: connections stay open, nothing is answered (a hung Redis). */
  freeze (): void {
    this.#process?.kill('SIGSTOP')
  }

  thaw (): void {
    this.#process?.kill('SIGCONT')
  }

  /** Closes a node's Redis subscriber connection (CLIENT KILL), as a network blip or a Redis proxy would. */
  async killSubscriber (nodeId: string): Promise<void> {
    let id: string | undefined
    // Right after a reconnect the connection has not subscribed yet: wait for it.
    await eventually(async () => {
      const line = (await this.run('CLIENT LIST')).split('\n').find((l) => l.includes(`name=fastify-pubsub:${nodeId} `) && / sub=[1-9]/.test(l))
      id = /^id=(\d+) /.exec(line ?? '')?.[1]
      return id !== undefined
    })
    await this.run(`CLIENT KILL ID ${id as string}`)
  }

  /** One command's reply, e.g. `CLIENT LIST` or `PUBSUB CHANNELS *`. */
  async run (line: string): Promise<string> {
    return await command(this.port, line)
  }
}

/** Where the RESP element at `at` ends, or -1 when it has not all arrived yet. */
function respEnd (data: Buffer, at: number): number {
  const line = data.indexOf('\r\n', at)
  if (line === -1) return -1
  const size = Number(data.toString('latin1', at + 1, line))
  if (data[at] === 0x24 /* $ bulk string */) return size < 0 ? line + 2 : line + 4 + size <= data.length ? line + 4 + size : -1
  if (data[at] !== 0x2a /* * array */) return line + 2
  let end = line + 2
  for (let i = 0; i < size && end !== -1; i++) end = respEnd(data, end)
  return end
}

/**
 * A TCP proxy to Redis, for faults Redis itself does not make. A connection
 * that sends a SUBSCRIBE is a subscriber: `silence()` makes subscribers stop
 * receiving with the connection left up (a subscription that has silently
 * stopped delivering), `drop(n)` loses the next n messages pushed to them
 * (never the probes), `cut()` closes them.
 */
export class RedisProxy {
  readonly port: number
  readonly subscribers = new Set<Socket>()
  readonly silenced = new WeakSet<Socket>()
  /** Subscriber connections made from now on are silenced too. */
  silenceNew = false
  /** ms each push to a subscriber is delayed by, in order (a slow moment, not a loss). */
  lag = 0
  /** While set, commands on other connections wait here (a command connection that hangs). */
  held: Array<() => void> | undefined
  #drops = 0

  private constructor (port: number) {
    this.port = port
  }

  static async start (t: Test, redis: RedisServer): Promise<RedisProxy> {
    const sockets = new Set<Socket>()
    // Assigned once the server listens; the connection handler reads it.
    let proxy: RedisProxy | undefined // eslint-disable-line prefer-const
    const server = createServer((client) => {
      const upstream = connectTcp(redis.port, '127.0.0.1')
      sockets.add(client).add(upstream)
      client.on('data', (data: Buffer) => {
        if (proxy !== undefined && !proxy.subscribers.has(client) && /SUBSCRIBE/i.test(String(data))) {
          proxy.subscribers.add(client)
          if (proxy.silenceNew) proxy.silenced.add(client)
        }
        // Held, not dropped: Redis must answer every command, in order.
        if (proxy?.held !== undefined && !proxy.subscribers.has(client)) proxy.held.push(() => upstream.write(data))
        else upstream.write(data)
      })
      let pending = Buffer.alloc(0)
      upstream.on('data', (data: Buffer) => {
        if (proxy?.silenced.has(client) === true) return
        if (proxy?.subscribers.has(client) !== true) {
          client.write(data)
          return
        }
        // A subscriber's replies are RESP pushes: forwarded whole, so that some can be left out.
        pending = Buffer.concat([pending, data])
        let end: number
        while (pending.length > 0 && (end = respEnd(pending, 0)) !== -1) {
          const element = pending.subarray(0, end)
          pending = pending.subarray(end)
          if (proxy.#lose(element)) continue
          if (proxy.lag > 0) setTimeout(() => client.write(element), proxy.lag)
          else client.write(element)
        }
      })
      const end = (): void => { client.destroy(); upstream.destroy() }
      client.on('close', end).on('error', end)
      upstream.on('close', end).on('error', end)
    }).listen(0, '127.0.0.1')
    await once(server, 'listening')
    proxy = new RedisProxy((server.address() as AddressInfo).port)
    t.teardown(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    })
    return proxy
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  silence (): void {
    for (const socket of this.subscribers) this.silenced.add(socket)
  }

  /** The next `n` messages pushed to subscribers are lost. */
  drop (n: number): void {
    this.#drops += n
  }

  /** Commands on connections other than subscribers wait, unanswered, until `release()`. */
  hold (): void {
    this.held ??= []
  }

  release (): void {
    const held = this.held ?? []
    this.held = undefined
    for (const write of held) write()
  }

  /** Closes every subscriber connection. */
  cut (): void {
    for (const socket of this.subscribers) socket.destroy()
    this.subscribers.clear()
  }

  #lose (element: Buffer): boolean {
    if (this.#drops === 0 || !element.toString('latin1', 0, 24).startsWith('*3\r\n$7\r\nmessage\r\n') || element.includes(':probe:')) return false
    this.#drops--
    return true
  }
}

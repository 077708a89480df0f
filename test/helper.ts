import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { connect as connectTcp, type AddressInfo, type Socket } from 'node:net'
import type { Test } from 'tap'
import WebSocket from 'ws'
import fastifyPubsub, { type PubsubOptions } from '../src/index.js'
import { MemoryEngine } from '../src/pubsub/memory-engine.js'
import type { EngineLink, Recovery, Snapshot } from '../src/pubsub/engine.js'
import type { Position } from '../src/pubsub/session.js'

/** How long a test waits for an event it expects before failing. */
export const WAIT_MS = 5000

/**
 * Collects what arrives (frames, handler calls, events) in order; `next()`
 * awaits the next one not yet read, failing after `ms`. The one waiting
 * primitive of the tests: a frame or call is never missed, and nothing waits
 * on a fixed timer.
 */
export class Inbox<T> {
  /** Everything pushed, read or not. */
  readonly items: T[] = []
  readonly #what: string
  #read = 0
  #wakers: Array<() => void> = []

  /** `what` names the items in the timeout error, such as `frame`. */
  constructor (what = 'item') {
    this.#what = what
  }

  readonly push = (item: T): void => {
    this.items.push(item)
    const wakers = this.#wakers
    this.#wakers = []
    for (const wake of wakers) wake()
  }

  async next (ms = WAIT_MS): Promise<T> {
    const deadline = Date.now() + ms
    while (this.#read === this.items.length) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${this.#what} within ${ms} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wakers.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return this.items[this.#read++] as T
  }
}

/** A fresh app with the plugin, ready, closed at teardown. */
export async function build (t: Test, opts: PubsubOptions = {}, fastifyOpts: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(fastifyOpts)
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, opts)
  await app.ready()
  return app
}

/** A fresh app listening on a free loopback port; returns it and its base URL. */
export async function listen (t: Test, opts: PubsubOptions = {}, fastifyOpts: FastifyServerOptions = {}): Promise<{ app: FastifyInstance, url: string }> {
  const app = await build(t, opts, fastifyOpts)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { app, url: `http://127.0.0.1:${port}${opts.prefix ?? ''}` }
}

// Frames are loose JSON in tests: t.match checks their shape.
export type Frame = Record<string, any>

/**
 * A WebSocket client over a real socket that queues every frame it gets, so
 * that a test awaits frames in order and never misses one.
 */
export class Client {
  readonly ws: WebSocket
  readonly #frames = new Inbox<Frame>('frame')
  readonly closed: Promise<{ code: number, reason: string }>
  #nextId = 1

  constructor (ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => { this.#frames.push(JSON.parse(String(data)) as Frame) })
    this.closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }))
    ws.on('error', () => {})
  }

  /** Sends a request (JSON-encoded unless already a string or bytes). */
  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame))
  }

  /** Sends a request with a fresh id and returns that id. */
  request (frame: Frame): number {
    const id = this.#nextId++
    this.send({ ...frame, id })
    return id
  }

  /** The next frame, in arrival order; fails after `ms`. */
  async next (ms = WAIT_MS): Promise<Frame> {
    return await this.#frames.next(ms)
  }

  /** The next `n` frames. */
  async take (n: number): Promise<Frame[]> {
    const frames: Frame[] = []
    for (let i = 0; i < n; i++) frames.push(await this.next())
    return frames
  }

  /**
   * Every frame up to the pong of a fresh ping. Since the server answers in
   * order, anything it was going to send before it shows up here: the way to
   * prove that a frame did *not* come, without sleeping.
   */
  async drain (): Promise<Frame[]> {
    const id = this.request({ action: 'ping' })
    const frames: Frame[] = []
    for (;;) {
      const frame = await this.next()
      if (frame.type === 'pong' && frame.id === id) return frames
      frames.push(frame)
    }
  }

  /** Subscribes and returns the reply: the ack, or an error frame. */
  async subscribeOrError (topic: string): Promise<Frame> {
    const id = this.request({ action: 'subscribe', topic })
    const reply = await this.next()
    if (reply.id !== id) throw new Error(`expected the reply of ${id}, got ${JSON.stringify(reply)}`)
    return reply
  }

  /** Subscribes and returns the ack. */
  async subscribe (topic: string): Promise<Frame> {
    const id = this.request({ action: 'subscribe', topic })
    const ack = await this.next()
    if (ack.id !== id || ack.type !== 'ack') throw new Error(`expected the ack of ${id}, got ${JSON.stringify(ack)}`)
    return ack
  }

  close (): void {
    this.ws.close()
  }
}

/** Opens a client to `${url}/ws` (with `?token=` when given), closed at teardown. The welcome stays queued. */
export async function connect (t: Test, url: string, options: { token?: string } = {}): Promise<Client> {
  const query = options.token === undefined ? '' : `?token=${encodeURIComponent(options.token)}`
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws' + query)
  const client = new Client(ws)
  t.teardown(() => ws.terminate())
  await once(ws, 'open')
  return client
}

/** Opens a client and consumes its welcome. */
export async function connectWelcomed (t: Test, url: string, options: { token?: string } = {}): Promise<Client> {
  const client = await connect(t, url, options)
  const welcome = await client.next()
  if (welcome.type !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(welcome)}`)
  return client
}

/** Resolves when `check` holds, polling on the event loop; fails after `ms`. */
export async function eventually (check: () => boolean | Promise<boolean>, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * A WebSocket client at the byte level, for what `ws` refuses to do: never
 * answer pings, send half a frame, reset mid-frame. Resolves once upgraded,
 * or with the HTTP status line when the upgrade is refused.
 */
export async function rawUpgrade (url: string, headers: Record<string, string | undefined> = {}, query = ''): Promise<{ socket: Socket, status: string, body: string }> {
  const { hostname, port, pathname } = new URL(url.replace(/^http/, 'ws') + '/ws')
  const socket = connectTcp(Number(port), hostname)
  socket.write(upgradeHead(`${hostname}:${port}`, `${pathname}${query}`, headers))
  return await new Promise((resolve, reject) => {
    let head = ''
    socket.on('error', reject)
    socket.on('data', function onData (chunk: Buffer) {
      head += String(chunk)
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      socket.pause()
      socket.off('error', reject)
      socket.on('error', () => {})
      // What came after the head (a body, or the first frames) is the caller's.
      resolve({ socket, status: head.slice(0, head.indexOf('\r\n')), body: head.slice(end + 4) })
    })
  })
}

/**
 * The head of an upgrade request to `path`: a valid one, but for `headers`,
 * which override the defaults (by name as written here) or, set to
 * undefined, leave them out.
 */
export function upgradeHead (host: string, path: string, headers: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...headers
  }
  const lines = Object.entries(all).flatMap(([name, value]) => value === undefined ? [] : [`${name}: ${value}\r\n`])
  return `GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`
}

/** A client-to-server text frame, masked with a zero key (XOR with zero: the payload as is). */
export function maskedFrame (payload: string | Buffer, opcode = 0x1): Buffer {
  const body = Buffer.from(payload)
  const length = body.length
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
  return Buffer.concat([header, Buffer.alloc(4), body])
}

/** A memory engine whose snapshot tells the subscribers of a loss on the way (as a network engine may); `reset` tells them again. */
export function resettingEngine (): { engine: MemoryEngine, reset: (key: string, position: Position | undefined) => void } {
  let link: EngineLink | undefined
  class ResettingEngine extends MemoryEngine {
    override attach (attached: EngineLink): void {
      super.attach(attached)
      link = attached
    }

    override async snapshot (topic: string, recovery?: Recovery): Promise<Snapshot> {
      const snapshot = await super.snapshot(topic, recovery)
      link?.reset(topic, { seq: 99, epoch: 'during' })
      return snapshot
    }
  }
  return { engine: new ResettingEngine(), reset: (key, position) => { link?.reset(key, position) } }
}

// The client SDK: one object per connection to a fastify-pubsub server, that
// reconnects by itself and keeps its subscriptions across reconnects. It runs
// in browsers and in Node: nothing here imports from `node:`.
import { MAX_INT32 } from '../protocol/limits.js'
import { hasWildcard, matches } from '../protocol/topic.js'
import { type ReconnectOptions, reconnectDelay, resolveReconnect } from './backoff.js'
import { Emitter } from './emitter.js'
import { PubsubClientError } from './errors.js'

/** What the client needs of a WebSocket: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  onopen: ((event: any) => void) | null
  onmessage: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Returns a token for the next connection, or to refresh the current one before it expires. */
export type TokenProvider = () => string | Promise<string>

export interface ClientOptions {
  /** The server's WebSocket URL, e.g. `ws://localhost:8080/ws`. */
  url: string
  /** A WebSocket class; defaults to the global one (browsers, Node 22+). In Node 20 pass `ws`. */
  WebSocket?: WebSocketConstructor
  /** A request without a reply after this many ms rejects with `TIMEOUT`. Default 10000. */
  requestTimeout?: number
  /** Reconnect timing, or `false` to stay closed once the connection drops. */
  reconnect?: Partial<ReconnectOptions> | false
  /** Requests made while not connected wait for the connection, up to this many; then `QUEUE_FULL`. Default 100; 0 rejects them at once. */
  maxQueued?: number
  /**
   * A JWT for servers with auth on (sent as `?token=`), or a function that
   * returns one: called before every connection, and again before the
   * token's `exp` to refresh the open connection (`auth` frame).
   */
  token?: string | TokenProvider
}

/** A message as handlers receive it. */
export interface PubsubMessage<T = unknown> {
  topic: string
  data: T
  seq: number
  ts: number
  /** The pattern this handler subscribed to, when it has wildcards. */
  subscription?: string
}

export type MessageHandler<T = unknown> = (message: PubsubMessage<T>) => void

export interface SubscribeAck {
  topic: string
  seq?: number
  epoch?: string
  recovered?: boolean
}

export interface PublishAck {
  topic: string
  seq: number
  /** The key was used before (a resend after a reconnect): this is the first publish's ack, nothing was published again. */
  duplicate?: true
}

export interface PublishOptions {
  /**
   * The idempotency key (1 to 64 characters). By default each publish gets a
   * random one, so that a publish resent after a reconnect is never applied
   * twice; pass your own to deduplicate across clients or restarts.
   */
  key?: string
}

/** Call it to remove the handler; `ready` settles with the server's first ack. */
export type Subscription = (() => Promise<void>) & {
  readonly topic: string
  readonly ready: Promise<SubscribeAck>
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface ClientEvents {
  /** The socket opened; `welcome` follows. */
  open: undefined
  /** The server greeted this connection; subscriptions are being restored and queued requests sent. */
  welcome: { clientId: string }
  /** The socket closed (`code` 1006 when it dropped). */
  close: { code: number, reason: string }
  /** The next attempt starts after `delay` ms. */
  reconnecting: { attempt: number, delay: number }
  /**
   * A resubscription after a reconnect (or after a gap in a topic's seqs)
   * asked for what was missed: `recovered` false means messages may have
   * been lost (refetch state), true that none were. The server also says
   * `recovered: false` on its own when it lost messages it cannot replay, or
   * the topic's sequence restarted.
   */
  recovery: { topic: string, recovered: boolean }
  /** Something failed that no promise reports: the connection, a handler, a refused resubscription. */
  error: PubsubClientError
}

interface Request {
  id: number
  frame: string
  /** Runs as the reply is read, before `resolve`'s callbacks (a microtask later). */
  onReply: ((reply: Frame) => void) | undefined
  /** Sent again after a reconnect rather than rejected (a publish: its key makes that safe). */
  resend: boolean
  resolve: (reply: Frame) => void
  reject: (error: PubsubClientError) => void
  timer: ReturnType<typeof setTimeout>
}

interface LocalSubscription {
  topic: string
  wildcard: boolean
  handlers: Set<MessageHandler<any>>
  acked: boolean
  ready: Promise<SubscribeAck>
  resolve: (ack: SubscribeAck) => void
  reject: (error: PubsubClientError) => void
}

/** Where an exact subscription has got to, so that a resubscribe can ask for what it missed. */
interface Position {
  seq: number
  epoch: string | undefined
}

type Frame = Record<string, unknown>

/** Failures that say the request may succeed on another try, not that the server refused it. */
const transient = new Set(['TIMEOUT', 'DISCONNECTED', 'CLOSED', 'QUEUE_FULL'])
/** Server answers that mean "not now" (the engine is away, too many requests): a subscribe is tried again. */
const retryLater = new Set(['UNAVAILABLE', 'RATE_LIMITED'])
const RETRY_MS = 1000

export class PubsubClient extends Emitter<ClientEvents> {
  readonly url: string
  readonly #WebSocket: WebSocketConstructor
  readonly #requestTimeout: number
  readonly #reconnect: ReconnectOptions | false
  readonly #maxQueued: number
  readonly #token: string | TokenProvider | undefined
  #refreshTimer: ReturnType<typeof setTimeout> | undefined
  /** The token of the current connection attempt. */
  #currentToken: string | undefined

  #state: ClientState = 'idle'
  #clientId: string | undefined
  #socket: WebSocketLike | undefined
  #socketClosed: Promise<void> = Promise.resolve()
  #attempt = 0
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #nextId = 1
  /** Sent, waiting for their reply. */
  readonly #inFlight = new Map<number, Request>()
  /** Waiting for the connection, in call order. */
  readonly #queued = new Map<number, Request>()
  readonly #subscriptions = new Map<string, LocalSubscription>()
  readonly #positions = new Map<string, Position>()
  /** Topics whose seqs jumped: resubscribed from their position, their messages wait for the replay. */
  readonly #filling = new Set<string>()
  #connectWaiters: Array<{ resolve: (welcome: { clientId: string }) => void, reject: (error: PubsubClientError) => void }> = []

  constructor (options: ClientOptions) {
    super()
    this.url = options.url
    const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocket === undefined) throw new TypeError('no global WebSocket: pass one as the WebSocket option (in Node 20, the ws package)')
    this.#WebSocket = WebSocket
    this.#requestTimeout = positive('requestTimeout', options.requestTimeout ?? 10_000)
    this.#reconnect = options.reconnect === false ? false : resolveReconnect(options.reconnect)
    this.#maxQueued = positive('maxQueued', options.maxQueued ?? 100, 0)
    this.#token = options.token
  }

  get state (): ClientState { return this.#state }

  /** The id the server gave the current connection (a new one after each reconnect). */
  get clientId (): string | undefined { return this.#clientId }

  /** The topics and patterns this client is subscribed to (or will be once connected), sorted. */
  get subscriptions (): string[] { return [...this.#subscriptions.keys()].sort() }

  /** The last `seq` and `epoch` seen of an exactly subscribed topic. */
  position (topic: string): Readonly<Position> | undefined { return this.#positions.get(topic) }

  /**
   * Opens the connection; resolves at the server's welcome. When the server
   * cannot be reached it keeps trying (see `reconnect`) and rejects only when
   * the client is closed or runs out of attempts.
   */
  async connect (): Promise<{ clientId: string }> {
    if (this.#state === 'closed') throw new PubsubClientError('CLOSED', 'client is closed')
    if (this.#state === 'open') return { clientId: this.#clientId as string }
    const welcome = new Promise<{ clientId: string }>((resolve, reject) => { this.#connectWaiters.push({ resolve, reject }) })
    if (this.#state === 'idle') this.#open()
    return await welcome
  }

  /**
   * Calls `handler` with every message on `topic` (a topic or a pattern). The
   * subscription lasts across reconnects until the returned function is called.
   */
  subscribe<T = unknown> (topic: string, handler: MessageHandler<T>): Subscription {
    let subscription = this.#subscriptions.get(topic)
    if (subscription === undefined) {
      subscription = this.#addSubscription(topic)
      if (this.#state === 'open') this.#sendSubscribe(subscription)
    }
    const local = subscription
    local.handlers.add(handler)
    const unsubscribe = async (): Promise<void> => {
      if (!local.handlers.delete(handler) || local.handlers.size > 0) return
      await this.#removeSubscription(local)
    }
    return Object.assign(unsubscribe, { topic, ready: local.ready })
  }

  /**
   * Publishes `message` (any JSON value) to `topic`; resolves with the
   * server's ack. A publish whose connection drops before the ack is sent
   * again, with the same key, once reconnected: it is applied once.
   */
  async publish (topic: string, message: unknown, options: PublishOptions = {}): Promise<PublishAck> {
    const ack = await this.#request({ action: 'publish', topic, message, key: options.key ?? randomKey() }, undefined, true)
    const result: PublishAck = { topic: ack.topic as string, seq: ack.seq as number }
    if (ack.duplicate === true) result.duplicate = true
    return result
  }

  /** Resolves with the round trip in ms. */
  async ping (): Promise<number> {
    const start = Date.now()
    await this.#request({ action: 'ping' })
    return Date.now() - start
  }

  /** Closes for good: stops reconnecting, rejects what waits with `CLOSED`. Safe to call again. */
  async close (): Promise<void> {
    if (this.#state !== 'closed') this.#shutDown(new PubsubClientError('CLOSED', 'client closed'))
    this.#socket?.close(1000)
    await this.#socketClosed
  }

  #addSubscription (topic: string): LocalSubscription {
    let resolve!: (ack: SubscribeAck) => void
    let reject!: (error: PubsubClientError) => void
    const ready = new Promise<SubscribeAck>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
    // Nobody has to await `ready`; failures also reach the `error` event.
    ready.catch(() => {})
    const subscription = { topic, wildcard: hasWildcard(topic), handlers: new Set<MessageHandler<any>>(), acked: false, ready, resolve, reject }
    this.#subscriptions.set(topic, subscription)
    return subscription
  }

  async #removeSubscription (subscription: LocalSubscription): Promise<void> {
    const { topic } = subscription
    this.#subscriptions.delete(topic)
    this.#positions.delete(topic)
    this.#filling.delete(topic)
    subscription.reject(new PubsubClientError('UNSUBSCRIBED', `unsubscribed from ${topic} before the server acknowledged it`))
    // Offline, there is nothing to undo: a reconnect subscribes only to what is in the map.
    if (this.#state !== 'open') return
    try {
      await this.#request({ action: 'unsubscribe', topic })
    } catch {
      // Dropped or closed: the server forgets the connection's subscriptions anyway.
    }
  }

  #sendSubscribe (subscription: LocalSubscription): void {
    const { topic } = subscription
    const position = this.#positions.get(topic)
    const frame: Frame = { action: 'subscribe', topic }
    if (position !== undefined) {
      frame.since = position.seq
      if (position.epoch !== undefined) frame.epoch = position.epoch
    }
    this.#request(frame, (reply) => { this.#subscribed(subscription, reply) }).catch((error: PubsubClientError) => {
      this.#filling.delete(topic)
      // Dropped on the way: the next connection subscribes again.
      if (transient.has(error.code) || this.#subscriptions.get(topic) !== subscription) return
      if (retryLater.has(error.code)) {
        this.emit('error', error)
        setTimeout(() => {
          if (this.#state === 'open' && this.#subscriptions.get(topic) === subscription && !subscription.acked) this.#sendSubscribe(subscription)
        }, RETRY_MS)
        return
      }
      this.#subscriptions.delete(topic)
      subscription.reject(error)
      this.emit('error', error)
    })
  }

  /**
   * The subscribe ack, handled as it is read: the replay that follows it in
   * the same read must find the position already set.
   */
  #subscribed (subscription: LocalSubscription, reply: Frame): void {
    const { topic } = subscription
    if (this.#subscriptions.get(topic) !== subscription) return
    const ack: SubscribeAck = { topic, seq: reply.seq as number | undefined, epoch: reply.epoch as string | undefined }
    if (typeof reply.recovered === 'boolean') ack.recovered = reply.recovered
    subscription.acked = true
    this.#filling.delete(topic)
    if (!subscription.wildcard && ack.recovered !== true) this.#positions.set(topic, { seq: ack.seq as number, epoch: ack.epoch })
    subscription.resolve(ack)
    if (ack.recovered !== undefined) this.emit('recovery', { topic, recovered: ack.recovered })
  }

  async #request (body: Frame, onReply?: (reply: Frame) => void, resend = false): Promise<Frame> {
    if (this.#state === 'closed') throw new PubsubClientError('CLOSED', 'client is closed')
    const id = this.#nextId++
    const frame = JSON.stringify({ ...body, id })
    return await new Promise<Frame>((resolve, reject) => {
      const request: Request = {
        id,
        frame,
        onReply,
        resend,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#inFlight.delete(id)
          this.#queued.delete(id)
          reject(new PubsubClientError('TIMEOUT', `no reply to ${String(body.action)} within ${this.#requestTimeout} ms`))
        }, this.#requestTimeout)
      }
      if (this.#state === 'open') {
        this.#send(request)
      } else if (this.#queued.size < this.#maxQueued) {
        this.#queued.set(id, request)
      } else {
        clearTimeout(request.timer)
        reject(new PubsubClientError('QUEUE_FULL', `not connected and ${this.#maxQueued} requests already wait`))
      }
    })
  }

  #send (request: Request): void {
    this.#inFlight.set(request.id, request)
    ;(this.#socket as WebSocketLike).send(request.frame)
  }

  #settle (id: unknown, settle: (request: Request) => void): boolean {
    if (typeof id !== 'number') return false
    const request = this.#inFlight.get(id)
    if (request === undefined) return false
    this.#inFlight.delete(id)
    clearTimeout(request.timer)
    settle(request)
    return true
  }

  #rejectAll (requests: Map<number, Request>, error: PubsubClientError): void {
    for (const request of requests.values()) {
      clearTimeout(request.timer)
      request.reject(error)
    }
    requests.clear()
  }

  #open (): void {
    this.#state = this.#state === 'idle' ? 'connecting' : 'reconnecting'
    if (this.#token === undefined) this.#connectSocket(undefined)
    else void this.#openWithToken()
  }

  async #openWithToken (): Promise<void> {
    let token: string
    try {
      token = typeof this.#token === 'function' ? await this.#token() : this.#token as string
    } catch (error) {
      if (this.#state === 'closed') return
      this.emit('error', new PubsubClientError('CONNECTION', `the token provider failed: ${(error as Error).message}`, { cause: error }))
      this.#retry()
      return
    }
    if (this.#state === 'closed') return
    this.#currentToken = token
    this.#connectSocket(token)
  }

  #connectSocket (token: string | undefined): void {
    let socket: WebSocketLike
    try {
      let url = this.url
      if (token !== undefined) {
        // Browsers' WebSocket cannot send headers: the token goes in the query.
        const withToken = new URL(url)
        withToken.searchParams.set('token', token)
        url = withToken.href
      }
      socket = new this.#WebSocket(url)
    } catch (error) {
      // A malformed URL will not get better with retries.
      this.#shutDown(new PubsubClientError('CONNECTION', `cannot connect to ${this.url}: ${(error as Error).message}`, { cause: error }))
      return
    }
    this.#socket = socket
    let closed!: () => void
    this.#socketClosed = new Promise((resolve) => { closed = resolve })
    socket.onopen = () => { this.emit('open', undefined) }
    socket.onmessage = (event: { data: unknown }) => { this.#onFrame(event.data) }
    socket.onerror = (event: { message?: string }) => {
      // Browsers say nothing more; ws gives the reason (ECONNREFUSED, a refused upgrade, …).
      this.emit('error', new PubsubClientError('CONNECTION', [`connection to ${this.url} failed`, event.message].filter(Boolean).join(': ')))
    }
    socket.onclose = (event: { code: number, reason: string }) => {
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null
      this.#onClose(event.code, event.reason)
      closed()
    }
  }

  #onFrame (data: unknown): void {
    // ws may still hand over a frame read before close() took effect.
    if (this.#state === 'closed') return
    let frame: Frame
    try {
      frame = JSON.parse(data as string)
    } catch {
      this.emit('error', new PubsubClientError('CONNECTION', 'the server sent a frame that is not JSON'))
      return
    }
    switch (frame.type) {
      case 'message': this.#onMessage(frame); break
      case 'ack': case 'pong': this.#settle(frame.id, (request) => { request.onReply?.(frame); request.resolve(frame) }); break
      case 'error': this.#onError(frame); break
      case 'welcome': this.#onWelcome(frame.clientId as string); break
      case 'reset': this.#onReset(frame); break
    }
  }

  #onWelcome (clientId: string): void {
    this.#state = 'open'
    this.#attempt = 0
    this.#clientId = clientId
    this.#scheduleRefresh(this.#currentToken)
    for (const waiter of this.#connectWaiters) waiter.resolve({ clientId })
    this.#connectWaiters = []
    this.emit('welcome', { clientId })
    // Subscriptions first, so that a queued publish to a subscribed topic comes back to us.
    for (const subscription of this.#subscriptions.values()) this.#sendSubscribe(subscription)
    const queued = [...this.#queued.values()]
    this.#queued.clear()
    for (const request of queued) this.#send(request)
  }

  #onError (frame: Frame): void {
    const error = new PubsubClientError(frame.code as string, frame.message as string)
    if (!this.#settle(frame.id, (request) => { request.reject(error) })) this.emit('error', error)
  }

  /**
   * The server lost messages of a subscription, or the topic's sequence
   * restarted: the position moves to where it says live delivery goes on.
   */
  #onReset (frame: Frame): void {
    const topic = frame.topic as string
    if (!this.#subscriptions.has(topic)) return
    if (typeof frame.seq === 'number' && this.#positions.has(topic)) this.#positions.set(topic, { seq: frame.seq, epoch: frame.epoch as string | undefined })
    this.#filling.delete(topic)
    this.emit('recovery', { topic, recovered: false })
  }

  #onMessage (frame: Frame): void {
    const topic = frame.topic as string
    const seq = frame.seq as number
    const position = this.#positions.get(topic)
    if (position !== undefined) {
      // A new epoch comes with a `reset` first, so a seq at or below the
      // position is one already handled.
      if (seq <= position.seq || this.#filling.has(topic)) return
      if (seq > position.seq + 1) {
        // The position never moves past a gap: ask for what is missing; what
        // arrives meanwhile is in the replay.
        this.#filling.add(topic)
        this.#sendSubscribe(this.#subscriptions.get(topic) as LocalSubscription)
        return
      }
      position.seq = seq
    }
    const exact = this.#subscriptions.get(topic)
    if (exact !== undefined) this.#dispatch(exact, { topic, data: frame.data, seq, ts: frame.ts as number })
    // The server sends a message once per connection however many of our
    // subscriptions match it; each local subscription gets its own call.
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.wildcard && matches(subscription.topic, topic)) {
        this.#dispatch(subscription, { topic, data: frame.data, seq, ts: frame.ts as number, subscription: subscription.topic })
      }
    }
  }

  #dispatch (subscription: LocalSubscription, message: PubsubMessage): void {
    for (const handler of subscription.handlers) {
      try {
        handler(message)
      } catch (error) {
        this.emit('error', new PubsubClientError('HANDLER', `a handler of ${subscription.topic} threw`, { cause: error }))
      }
    }
  }

  #onClose (code: number, reason: string): void {
    this.#socket = undefined
    this.#clientId = undefined
    for (const subscription of this.#subscriptions.values()) subscription.acked = false
    this.#filling.clear()
    // Publishes go again after the reconnect, ahead of what was queued since.
    const queued = [...this.#queued.values()]
    this.#queued.clear()
    for (const request of this.#inFlight.values()) {
      if (request.resend) {
        this.#inFlight.delete(request.id)
        this.#queued.set(request.id, request)
      }
    }
    for (const request of queued) this.#queued.set(request.id, request)
    this.#rejectAll(this.#inFlight, new PubsubClientError('DISCONNECTED', `connection closed (${code}) before the reply`))
    this.emit('close', { code, reason })
    this.#retry()
  }

  /** After a drop or a failed attempt: the next attempt after a backoff, or `closed` when out of them. */
  #retry (): void {
    clearTimeout(this.#refreshTimer)
    if (this.#state === 'closed') return
    if (this.#reconnect === false || this.#attempt >= this.#reconnect.maxAttempts) {
      this.#shutDown(new PubsubClientError('CLOSED', 'connection lost and not reconnecting'))
      return
    }
    const delay = reconnectDelay(this.#attempt, this.#reconnect)
    this.#attempt++
    this.#state = 'reconnecting'
    this.emit('reconnecting', { attempt: this.#attempt, delay })
    this.#reconnectTimer = setTimeout(() => { this.#open() }, delay)
  }

  /**
   * With a token provider: a fresh token is sent on the open connection a
   * little before the current one expires (a fifth of its remaining life,
   * at most 30 s, early), so the server does not close it with 1008.
   */
  #scheduleRefresh (token: string | undefined): void {
    clearTimeout(this.#refreshTimer)
    const expiresAt = typeof this.#token === 'function' ? expiryOf(token) : undefined
    if (expiresAt === undefined) return
    const left = expiresAt - Date.now()
    this.#refreshTimer = setTimeout(() => { void this.#refresh() }, Math.min(MAX_INT32, Math.max(0, left - Math.min(30_000, left / 5))))
  }

  async #refresh (): Promise<void> {
    try {
      const token = await (this.#token as TokenProvider)()
      await this.#request({ action: 'auth', token })
      this.#scheduleRefresh(token)
    } catch (error) {
      this.emit('error', new PubsubClientError('CONNECTION', `token refresh failed: ${(error as Error).message}`, { cause: error }))
    }
  }

  /** The one way into `closed`: everything waiting is rejected with `error`. */
  #shutDown (error: PubsubClientError): void {
    this.#state = 'closed'
    clearTimeout(this.#reconnectTimer)
    clearTimeout(this.#refreshTimer)
    this.#rejectAll(this.#inFlight, error)
    this.#rejectAll(this.#queued, error)
    for (const waiter of this.#connectWaiters) waiter.reject(error)
    this.#connectWaiters = []
    for (const subscription of this.#subscriptions.values()) subscription.reject(error)
  }
}

/** A random idempotency key: 128 bits as hex (getRandomValues works in insecure browser contexts too). */
function randomKey (): string {
  let key = ''
  for (const byte of crypto.getRandomValues(new Uint8Array(16))) key += byte.toString(16).padStart(2, '0')
  return key
}

/** A JWT's `exp` in ms, read without verifying (the server verifies); undefined when there is none. */
function expiryOf (token: string | undefined): number | undefined {
  try {
    const payload = (token as string).split('.')[1] as string
    const exp = (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown }).exp
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

function positive (name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) throw new TypeError(`${name} must be an integer >= ${min}, got ${String(value)}`)
  return value
}

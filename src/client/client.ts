// The client SDK: one object per connection to a fastify-pubsub server, that
// reconnects by itself and keeps its subscriptions across reconnects. It runs
// in browsers and in Node: nothing here imports from `node:`.
import type {
  ErrorFrame, MessageFrame, ResetFrame, ServerFrame, SubscribeAck as SubscribeAckFrame
} from '../protocol/frames.js'
import { hasWildcard, matches } from '../protocol/topic.js'
import type { AnyTopics, MessageOf, SubscribableOf, SubscribedMessageOf, TopicMap, TopicOf, UntypedTopic } from '../protocol/topic-map.js'
import { type ReconnectOptions, reconnectDelay, resolveReconnect } from './backoff.js'
import { Emitter } from './emitter.js'
import { optionError, PubsubClientError } from './errors.js'
import { type Outgoing, type Replies, RequestTracker } from './requests.js'
import { Tokens } from './token.js'
import type {
  ClientEvents, ClientOptions, ClientState, MessageHandler, PublishAck, PublishOptions, PubsubMessage,
  SubscribeAck, Subscription, WebSocketConstructor, WebSocketLike
} from './types.js'

interface LocalSubscription {
  topic: string
  wildcard: boolean
  handlers: Set<MessageHandler<any>>
  acked: boolean
  /** Acknowledged once already: the next ack is a resubscription (after a reconnect). */
  established: boolean
  ready: Promise<SubscribeAck>
  resolve: (ack: SubscribeAck) => void
  reject: (error: PubsubClientError) => void
}

/** Where an exact subscription has got to, so that a resubscribe can ask for what it missed. */
interface Position {
  seq: number
  epoch: string | undefined
}

/** Failures that say the request may succeed on another try, not that the server refused it. */
const transient = new Set(['TIMEOUT', 'DISCONNECTED', 'CLOSED', 'QUEUE_FULL'])
/** Server answers that mean "not now" (the engine is away, too many requests): a subscribe is tried again. */
const retryLater = new Set(['UNAVAILABLE', 'RATE_LIMITED'])
const RETRY_MS = 1000

/**
 * `Topics`, a topic map (docs/client.md, "Typed topics"), types what
 * `publish` takes and what `subscribe` handlers get; by default any topic,
 * any message.
 */
export class PubsubClient<Topics extends TopicMap = AnyTopics> extends Emitter<ClientEvents> {
  readonly url: string
  readonly #WebSocket: WebSocketConstructor
  readonly #reconnect: ReconnectOptions | false
  readonly #requests: RequestTracker
  /** Undefined without the `token` option. */
  readonly #tokens: Tokens | undefined

  #state: ClientState = 'idle'
  #clientId: string | undefined
  #socket: WebSocketLike | undefined
  #socketClosed: Promise<void> = Promise.resolve()
  #attempt = 0
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  readonly #subscriptions = new Map<string, LocalSubscription>()
  readonly #positions = new Map<string, Position>()
  /** Topics whose seqs jumped: resubscribed from their position, their messages wait for the replay. */
  readonly #filling = new Set<string>()
  #connectWaiters: Array<{ resolve: (welcome: { clientId: string }) => void, reject: (error: PubsubClientError) => void }> = []

  constructor (options: ClientOptions) {
    super()
    this.url = options.url
    const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocket === undefined) throw optionError('no global WebSocket: pass one as the WebSocket option (in Node 20, the ws package)')
    this.#WebSocket = WebSocket
    const timeout = positive('requestTimeout', options.requestTimeout ?? 10_000)
    this.#reconnect = options.reconnect === false ? false : resolveReconnect(options.reconnect)
    this.#requests = new RequestTracker({ timeout, maxQueued: positive('maxQueued', options.maxQueued ?? 100, 0) })
    this.#tokens = options.token === undefined
      ? undefined
      : new Tokens(options.token, {
        refresh: async (token) => await this.#request({ action: 'auth', token }),
        onError: (error) => { this.emit('error', error) }
      })
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
  subscribe<P extends SubscribableOf<Topics>> (topic: P, handler: MessageHandler<SubscribedMessageOf<Topics, P>>): Subscription
  /** The message type given or annotated (`subscribe<Order>(…)`): what you expect, unchecked; only where the map has a `string` catch-all (the default). */
  subscribe<T = unknown> (topic: UntypedTopic<Topics>, handler: MessageHandler<T>): Subscription
  subscribe (topic: string, handler: MessageHandler<any>): Subscription {
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
  async publish<T extends TopicOf<Topics>> (topic: T, message: MessageOf<Topics, T>, options: PublishOptions = {}): Promise<PublishAck> {
    const ack = await this.#request({ action: 'publish', topic, message, key: options.key ?? randomKey() }, undefined, true)
    const result: PublishAck = { topic: ack.topic, seq: ack.seq }
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
    const subscription = { topic, wildcard: hasWildcard(topic), handlers: new Set<MessageHandler<any>>(), acked: false, established: false, ready, resolve, reject }
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
    const frame: Outgoing<'subscribe'> = { action: 'subscribe', topic }
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
  #subscribed (subscription: LocalSubscription, reply: SubscribeAckFrame): void {
    const { topic } = subscription
    if (this.#subscriptions.get(topic) !== subscription) return
    const ack: SubscribeAck = { topic, seq: reply.seq, epoch: reply.epoch }
    if (typeof reply.recovered === 'boolean') ack.recovered = reply.recovered
    const resumed = subscription.established
    subscription.acked = subscription.established = true
    this.#filling.delete(topic)
    // An exact topic's ack always carries its seq; only a pattern's lacks one.
    if (!subscription.wildcard && ack.recovered !== true) this.#positions.set(topic, { seq: ack.seq as number, epoch: ack.epoch })
    subscription.resolve(ack)
    if (ack.recovered !== undefined) this.emit('recovery', { topic, recovered: ack.recovered })
    // A pattern is resubscribed without a position (the server replays no
    // pattern: contract 1.1), so its ack does not say what was lost: we do.
    else if (subscription.wildcard && resumed) this.emit('recovery', { topic, recovered: false, reason: 'pattern' })
  }

  async #request<F extends Outgoing> (body: F, onReply?: (reply: Replies[F['action']]) => void, resend = false): Promise<Replies[F['action']]> {
    if (this.#state === 'closed') throw new PubsubClientError('CLOSED', 'client is closed')
    return await this.#requests.request(body, onReply, resend)
  }

  #open (): void {
    this.#state = this.#state === 'idle' ? 'connecting' : 'reconnecting'
    if (this.#tokens === undefined) this.#connectSocket(undefined)
    else void this.#openWithToken(this.#tokens)
  }

  async #openWithToken (tokens: Tokens): Promise<void> {
    let token: string
    try {
      token = await tokens.next()
    } catch (error) {
      if (this.#state === 'closed') return
      this.emit('error', error as PubsubClientError)
      this.#retry()
      return
    }
    if (this.#state === 'closed') return
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
    let frame: ServerFrame
    try {
      // The wire contract is the frame's type: the server sends nothing else.
      frame = JSON.parse(data as string) as ServerFrame
    } catch {
      this.emit('error', new PubsubClientError('CONNECTION', 'the server sent a frame that is not JSON'))
      return
    }
    switch (frame.type) {
      case 'message': this.#onMessage(frame); break
      case 'ack': case 'pong': this.#requests.resolve(frame); break
      case 'error': this.#onError(frame); break
      case 'welcome': this.#onWelcome(frame.clientId); break
      case 'reset': this.#onReset(frame); break
    }
  }

  #onWelcome (clientId: string): void {
    this.#state = 'open'
    this.#attempt = 0
    this.#clientId = clientId
    this.#tokens?.schedule()
    this.#requests.attach(this.#socket as WebSocketLike)
    for (const waiter of this.#connectWaiters) waiter.resolve({ clientId })
    this.#connectWaiters = []
    this.emit('welcome', { clientId })
    // Subscriptions first, so that a queued publish to a subscribed topic comes back to us.
    for (const subscription of this.#subscriptions.values()) this.#sendSubscribe(subscription)
    this.#requests.flush()
  }

  #onError (frame: ErrorFrame): void {
    const error = new PubsubClientError(frame.code, frame.message)
    if (!this.#requests.reject(frame.id, error)) this.emit('error', error)
  }

  /**
   * The server lost messages of a subscription, or the topic's sequence
   * restarted: the position moves to where it says live delivery goes on.
   */
  #onReset (frame: ResetFrame): void {
    const { topic } = frame
    if (!this.#subscriptions.has(topic)) return
    if (typeof frame.seq === 'number' && this.#positions.has(topic)) this.#positions.set(topic, { seq: frame.seq, epoch: frame.epoch })
    this.#filling.delete(topic)
    this.emit('recovery', { topic, recovered: false })
  }

  #onMessage (frame: MessageFrame): void {
    const { topic, seq, ts, skipped } = frame
    const position = this.#positions.get(topic)
    if (position !== undefined) {
      // A new epoch comes with a `reset` first, so a seq at or below the
      // position is one already handled.
      if (seq <= position.seq || this.#filling.has(topic)) return
      // A conflated message's jump of `skipped` is declared, not lost (1.1).
      if (seq > position.seq + 1 + (skipped ?? 0)) {
        // The position never moves past a gap: ask for what is missing; what
        // arrives meanwhile is in the replay.
        this.#filling.add(topic)
        this.#sendSubscribe(this.#subscriptions.get(topic) as LocalSubscription)
        return
      }
      position.seq = seq
    }
    const message: PubsubMessage = { topic, data: frame.data, seq, ts }
    if (skipped !== undefined) message.skipped = skipped
    const exact = this.#subscriptions.get(topic)
    if (exact !== undefined) this.#dispatch(exact, message)
    // The server sends a message once per connection however many of our
    // subscriptions match it; each local subscription gets its own call.
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.wildcard && matches(subscription.topic, topic)) {
        this.#dispatch(subscription, { ...message, subscription: subscription.topic })
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
    this.#requests.detach(code)
    this.emit('close', { code, reason })
    this.#retry()
  }

  /** After a drop or a failed attempt: the next attempt after a backoff, or `closed` when out of them. */
  #retry (): void {
    this.#tokens?.cancel()
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

  /** The one way into `closed`: everything waiting is rejected with `error`. */
  #shutDown (error: PubsubClientError): void {
    this.#state = 'closed'
    clearTimeout(this.#reconnectTimer)
    this.#tokens?.cancel()
    this.#requests.close(error)
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

function positive (name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) throw optionError(`${name} must be an integer >= ${min}, got ${String(value)}`)
  return value
}

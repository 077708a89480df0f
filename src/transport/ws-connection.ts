import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { Authenticator, Identity } from '../auth/authenticator.js'
import { mayPublish, maySubscribe } from '../auth/grants.js'
import type { Broker, BrokerSession } from '../pubsub/broker.js'
import { PUBSUB_ERR_FORBIDDEN, PUBSUB_ERR_RATE_LIMITED, wireCode } from '../protocol/errors.js'
import type { Message } from '../pubsub/message.js'
import { ackFloor, isBehind } from '../pubsub/position.js'
import type { Position } from '../pubsub/session.js'
import { encodeTextFrame } from '../protocol/frame.js'
import { FrameWriter } from './frame-writer.js'
import type { FlushScheduler } from './flush-scheduler.js'
import { parseFrame, requestIdOf, RequestError, type Request, type RequestId } from '../protocol/request.js'
import { TokenBucket } from './token-bucket.js'
import { MAX_INT32 } from '../pubsub/options.js'

/** The logger methods a client's runtime uses; pino and Fastify's logger fit. */
export interface ConnectionLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export interface ConnectionOptions {
  ws: WebSocket
  /** The TCP socket under `ws`. */
  socket: Socket
  scheduler: FlushScheduler
  broker: Broker
  clientId: string
  /** Logs carry `clientId`. */
  log: ConnectionLogger
  /** Bytes queued for a client past which it is closed with 1013. */
  maxBufferedBytes: number
  /** ms a closing connection gets before it is terminated. */
  closeGrace: number
  /** Inbound frame budget, or false for none. */
  rateLimit: false | Readonly<{ rate: number, burst: number, sustain: number }>
  /** With auth on: who connected, and what checks a refreshed token. */
  identity?: Identity
  authenticator?: Authenticator
}

const OPEN = 1
const CLOSED = 3

/**
 * One WebSocket client: parses its frames, runs them against the broker in
 * order, replies, and delivers its messages.
 */
export class Connection {
  readonly clientId: string
  readonly #ws: WebSocket
  readonly #authenticator: Authenticator | undefined
  #identity: Identity | undefined
  /** Closes the connection with 1008 when its token expires, unless refreshed. */
  #expiry: NodeJS.Timeout | undefined
  readonly #broker: Broker
  readonly #session: BrokerSession
  readonly #log: ConnectionLogger
  readonly #maxBufferedBytes: number
  readonly #writer: FrameWriter
  readonly #closeGrace: number
  readonly #bucket: TokenBucket | undefined
  readonly #floodMs: number
  /** When the current run of refusals began (a second without one ends it), or 0. */
  #floodStart = 0
  #lastRefusal = 0
  #flooding = false
  /** Terminates the client if a close handshake the server began does not finish. */
  #graceTimer: NodeJS.Timeout | undefined
  /** Whether the client answered the last ping. */
  #alive = true
  // Requests run one after the other, so that replies keep request order even
  // when an engine answers asynchronously.
  #tail: Promise<void> = Promise.resolve()
  /** Requests other than publish queued or running: while any is, publishes queue behind them. */
  #barriers = 0
  /** Requests queued behind others and not started: a new publish queues behind them too. */
  #waiting = 0
  // Frames held back for the subscription whose ack (and replay) is not sent
  // yet: the ack comes first, whatever the engine. Requests run one at a
  // time, so there is at most one such subscription.
  #heldKey: string | undefined
  /**
   * After a subscribe to a topic, the position its ack (or replay) ended at:
   * a network engine's live copy of a message at or below it may come later,
   * and is dropped. The first message past it (a higher seq, or another
   * epoch: the sequence restarted) removes the floor.
   */
  readonly #floors = new Map<string, Position>()
  #held: Array<{ message: Message, frame: Buffer }> = []
  #heldBytes = 0

  constructor ({ ws, socket, scheduler, broker, clientId, log, maxBufferedBytes, closeGrace, rateLimit, identity, authenticator }: ConnectionOptions) {
    this.clientId = clientId
    this.#authenticator = authenticator
    this.#setIdentity(identity)
    this.#ws = ws
    this.#writer = new FrameWriter({
      // Once closing (1013 included) nothing more is queued.
      isOpen: () => ws.readyState === OPEN,
      socket,
      scheduler,
      maxBufferedBytes,
      onOverflow: (buffered) => { this.#slowConsumer(buffered) },
      onDrop: (messages) => { broker.counters.dropped += messages }
    })
    this.#broker = broker
    this.#log = log
    this.#maxBufferedBytes = maxBufferedBytes
    this.#closeGrace = closeGrace
    this.#bucket = rateLimit === false ? undefined : new TokenBucket(rateLimit.rate, rateLimit.burst)
    this.#floodMs = rateLimit === false ? 0 : rateLimit.sustain
    this.#session = broker.connect(this)
    this.#send({ type: 'welcome', clientId })
  }

  /** A frame arrived: queue it behind the requests still running. */
  receive (data: Buffer, isBinary: boolean): void {
    if (this.#ws.readyState !== OPEN || this.#flooding) return
    if (this.#bucket !== undefined && !this.#bucket.take()) {
      this.#refuse(data, isBinary)
      return
    }
    let request: Request
    try {
      request = parseFrame(data, isBinary)
    } catch (err) {
      this.#tail = this.#tail.then(() => { this.#fail(err, undefined) })
      return
    }
    if (request.action === 'publish' && this.#barriers === 0 && this.#waiting === 0) {
      // A publish with only running publishes ahead of it starts at once: a
      // burst of them reaches the engine together (one pipelined write to
      // Redis, one fan-out burst), while their acks still go out in order.
      const reply = this.#publish(request)
      this.#tail = this.#tail.then(async () => { (await reply)() })
      return
    }
    // Anything else waits for the requests ahead, and publishes wait for it:
    // a publish after a subscribe sees that subscription live, and one behind
    // a waiting publish cannot overtake it.
    const barrier = request.action !== 'publish'
    if (barrier) this.#barriers++
    this.#waiting++
    this.#tail = this.#tail.then(async () => {
      this.#waiting--
      await this.#handle(request)
      if (barrier) this.#barriers--
    })
  }

  /**
   * A frame over the rate limit is answered RATE_LIMITED (with its id). A
   * client refused for `sustain` ms on end, with no second free of refusals,
   * is flooding: it is closed with 1008 once the replies already due are out.
   * A burst (say, resubscribing after a reconnect) only gets refusals.
   */
  #refuse (data: Buffer, isBinary: boolean): void {
    const now = performance.now()
    if (now - this.#lastRefusal > 1000) this.#floodStart = now
    this.#lastRefusal = now
    if (now - this.#floodStart >= this.#floodMs) {
      this.#log.info({ clientId: this.clientId }, 'flooding after rate limiting: closing')
      this.#flooding = true
      this.#tail = this.#tail.then(() => { this.close(1008, 'rate limit exceeded') })
      return
    }
    this.#broker.counters.rateLimited++
    const id = isBinary ? undefined : requestIdOf(data)
    this.#tail = this.#tail.then(() => { this.#fail(new PUBSUB_ERR_RATE_LIMITED(), id) })
  }

  /** The token's subject: presence lists it (rather than the clientId) when auth is on. */
  get sub (): string | undefined {
    return this.#identity?.sub
  }

  /** The socket closed: every subscription ends now. */
  closed (): void {
    this.#session.close()
    this.#writer.discard()
    this.#dropHeld()
    clearTimeout(this.#graceTimer)
    clearTimeout(this.#expiry)
  }

  /**
   * Closes the connection after the frames already queued (1001 at
   * shutdown), and terminates it if the client has not completed the close
   * handshake within closeGrace.
   */
  close (code: number, reason: string): void {
    this.#writer.flush()
    this.#closeSoon(code, reason)
  }

  /**
   * ws has begun a close after a protocol error (1009 for a frame over
   * maxPayload): let its close frame go out, and terminate only if the
   * handshake does not finish within closeGrace.
   */
  failed (): void {
    this.#terminateLater()
  }

  /** The heartbeat: terminates a client that missed the last ping, pings the others. */
  heartbeat (): void {
    if (!this.#alive) {
      this.#log.info({ clientId: this.clientId }, 'no pong: terminating')
      this.#ws.terminate()
      return
    }
    this.#alive = false
    this.#ws.ping()
  }

  /** The client answered a ping. */
  pong (): void {
    this.#alive = true
  }

  deliver (message: Message, subscription: string | undefined): void {
    if (this.#floors.size !== 0 && subscription === undefined) {
      const floor = this.#floors.get(message.topic)
      if (floor !== undefined) {
        if (isBehind(message, floor)) return
        this.#floors.delete(message.topic)
      }
    }
    const frame = message.frame(subscription)
    if (this.#heldKey === undefined || this.#heldKey !== (subscription ?? message.topic)) {
      this.#writer.send(frame, true)
      return
    }
    this.#held.push({ message, frame })
    this.#heldBytes += frame.length
    // Held while a replay waits for the client to read: the same bound.
    if (this.#heldBytes > this.#maxBufferedBytes) this.#slowConsumer(this.#heldBytes)
  }

  /** The node lost messages of a subscription it could not replay: the client is told (`reset`), and live delivery goes on. */
  reset (subscription: string, position: Position | undefined): void {
    // A subscribe of this key is under way: its ack gives the client a fresh position.
    if (this.#heldKey === subscription) return
    this.#floors.delete(subscription)
    this.#send({ type: 'reset', topic: subscription, ...position })
  }

  async #handle (request: Request): Promise<void> {
    // Queued before a close: the client is gone or going.
    if (this.#ws.readyState !== OPEN) return
    try {
      await this.#run(request)
    } catch (err) {
      this.#fail(err, request.id)
    }
  }

  /** Runs a publish now; resolves with the reply to send when its turn comes. */
  async #publish (request: Extract<Request, { action: 'publish' }>): Promise<() => void> {
    try {
      const identity = this.#identity
      if (identity !== undefined && !mayPublish(identity, request.topic)) throw new PUBSUB_ERR_FORBIDDEN(`not allowed to publish to ${request.topic.slice(0, 300)}`)
      const { topic, seq, epoch, duplicate } = await this.#broker.publish(request.topic, request.message, { key: request.key, transport: 'ws' })
      // A keyed publish's ack names the epoch too, so that a resend can be matched with the first.
      const ack = request.key === undefined ? { topic, seq } : { topic, seq, epoch, duplicate }
      return () => { this.#send({ type: 'ack', id: request.id, action: 'publish', ...ack }) }
    } catch (err) {
      return () => { this.#fail(err, request.id) }
    }
  }

  async #run (request: Request): Promise<void> {
    switch (request.action) {
      case 'subscribe':
        await this.#subscribe(request)
        return
      case 'unsubscribe':
        await this.#session.unsubscribe(request.topic)
        this.#floors.delete(request.topic)
        this.#send({ type: 'ack', id: request.id, action: 'unsubscribe', topic: request.topic })
        return
      case 'publish':
        (await this.#publish(request))()
        return
      case 'ping':
        this.#send({ type: 'pong', id: request.id })
        return
      case 'auth':
        this.#refresh(request.token)
        this.#send({ type: 'ack', id: request.id, action: 'auth' })
    }
  }

  /**
   * Ack, then the replay when recovering, then the live messages that came
   * meanwhile, less any the replay already had: no gap, no duplicate.
   */
  async #subscribe (request: Extract<Request, { action: 'subscribe' }>): Promise<void> {
    const key = request.topic
    const identity = this.#identity
    if (identity !== undefined && !maySubscribe(identity, key)) throw new PUBSUB_ERR_FORBIDDEN(`not allowed to subscribe to ${key.slice(0, 300)}`)
    this.#floors.delete(key)
    this.#heldKey = key
    // Live messages at or below it came before the ack, or were in the replay.
    let floor: Position | undefined
    try {
      const recovery = request.since === undefined ? undefined : { since: request.since, epoch: request.epoch }
      const { replay, ...result } = await this.#session.subscribe(key, recovery)
      this.#send({ type: 'ack', id: request.id, action: 'subscribe', ...result })
      floor = ackFloor(result, request.since)
      if (replay !== undefined) {
        // Paced: a replay longer than maxBufferedBytes is not a slow consumer.
        await this.#writer.sendPaced(replay, (message) => message.frame())
        floor = { seq: (replay[replay.length - 1] as Message).seq, epoch: result.epoch as string }
      }
    } finally {
      this.#heldKey = undefined
      const held = this.#held
      this.#held = []
      this.#heldBytes = 0
      for (const { message, frame } of held) if (floor === undefined || !isBehind(message, floor)) this.#writer.send(frame, true)
      if (floor !== undefined) this.#floors.set(key, floor)
    }
  }

  /**
   * `{"action":"auth","token"}`: a fresh token for the same `sub` replaces
   * the grants and pushes the expiry back. Without auth it is a no-op.
   */
  #refresh (token: string): void {
    if (this.#authenticator === undefined) return
    let identity: Identity
    try {
      identity = this.#authenticator.verify(token)
    } catch (err) {
      throw new PUBSUB_ERR_FORBIDDEN((err as Error).message)
    }
    if (identity.sub !== this.#identity?.sub) throw new PUBSUB_ERR_FORBIDDEN('the token is for another sub')
    this.#setIdentity(identity)
  }

  #setIdentity (identity: Identity | undefined): void {
    this.#identity = identity
    clearTimeout(this.#expiry)
    if (identity?.expiresAt === undefined) return
    const left = Math.max(0, identity.expiresAt - Date.now())
    // Past a timer's range (24.8 days) the connection lives until it ends by itself.
    if (left > MAX_INT32) return
    // A token without a later refresh ends the connection when it expires.
    this.#expiry = setTimeout(() => {
      this.#log.info({ clientId: this.clientId, sub: identity.sub }, 'token expired: closing')
      this.close(1008, 'token expired')
    }, left)
  }

  #fail (err: unknown, id: RequestId | undefined): void {
    let error = err as Error & { code?: string }
    if (err instanceof RequestError) {
      error = err.error
      id = err.id
    }
    let code = wireCode(error)
    if (code === undefined) {
      // A bug of ours, not the client's: log it, answer, keep serving.
      this.#log.error({ err, clientId: this.clientId }, 'request failed')
      code = 'UNAVAILABLE'
      error = new Error('internal error')
    }
    this.#broker.counters.error(code)
    this.#send({ type: 'error', id, code, message: error.message })
  }

  #send (frame: object): void {
    this.#write(encodeTextFrame(JSON.stringify(frame)))
  }

  /** Messages held behind a replay that will not go out now. */
  #dropHeld (): void {
    this.#broker.counters.dropped += this.#held.length
    this.#held = []
    this.#heldBytes = 0
  }

  /** Replies pass here; messages go to the writer with `message` set (FrameWriter applies the slow-consumer bound to both). */
  #write (frame: Buffer): void {
    this.#writer.send(frame)
  }

  /**
   * A client that let more than maxBufferedBytes pile up: its subscriptions
   * end at once and it is closed with 1013.
   */
  #slowConsumer (buffered: number): void {
    this.#log.warn({ clientId: this.clientId, bufferedAmount: buffered }, 'slow consumer: closing')
    this.#broker.counters.slowConsumers++
    this.#session.close()
    this.#writer.discard()
    this.#dropHeld()
    this.#closeSoon(1013, 'slow consumer')
  }

  #closeSoon (code: number, reason: string): void {
    this.#ws.close(code, reason)
    this.#terminateLater()
  }

  #terminateLater (): void {
    if (this.#graceTimer !== undefined) return
    const ws = this.#ws
    // A client too stuck to answer the close frame would hold its buffers
    // for ws's own 30 s timeout. Not unref'd: a drain at shutdown waits on
    // it; cleared as soon as the socket closes.
    this.#graceTimer = setTimeout(() => { if (ws.readyState !== CLOSED) ws.terminate() }, this.#closeGrace)
  }
}

import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import { expiryTimer, assertMayPublish, assertMaySubscribe } from '../auth/access.js'
import type { Authenticator, Identity } from '../auth/authenticator.js'
import { PUBSUB_ERR_BAD_REQUEST, PUBSUB_ERR_FORBIDDEN, PUBSUB_ERR_RATE_LIMITED, wireCode } from '../protocol/errors.js'
import { encodeTextFrame, publishAckJson } from '../protocol/frame.js'
import type { ServerFrame } from '../protocol/frames.js'
import { parseFrame, requestIdOf, RequestError, type Request, type RequestId } from '../protocol/request.js'
import type { Broker, BrokerSession } from '../pubsub/broker.js'
import type { Message } from '../pubsub/message.js'
import { ackFloor } from '../pubsub/position.js'
import type { Position } from '../pubsub/session.js'
import type { Clients } from './clients.js'
import type { ConflationPolicy } from './conflation.js'
import { FloodGuard } from './flood-guard.js'
import type { FlushScheduler } from './flush-scheduler.js'
import { FrameWriter } from './frame-writer.js'
import { ReplayGate } from './replay-gate.js'
import { RequestQueue, type Reply } from './request-queue.js'

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
  /** Where the connection's counters go (dropped, rate limited, …). */
  clients: Clients
  clientId: string
  /** Logs carry `clientId`. */
  log: ConnectionLogger
  /** Bytes queued for a client past which it is closed with 1013. */
  maxBufferedBytes: number
  /**
   * The largest frame it runs, in bytes; a larger one that ws still read
   * (below its own cap, which closes with 1009) is answered with an error.
   */
  maxPayload: number
  /** ms a closing connection gets before it is terminated. */
  closeGrace: number
  /** Inbound frame budget, or false for none. */
  rateLimit: false | Readonly<{ rate: number, burst: number, sustain: number }>
  /** With auth on: who connected, and what checks a refreshed token. */
  identity?: Identity
  authenticator?: Authenticator
  /** Which messages a client that is behind gets the latest of, per topic, rather than 1013 (namespaces' `conflate`). */
  conflation?: ConflationPolicy
}

/**
 * One WebSocket client: receive → queue → run → reply, and deliver → gate →
 * writer. Requests run in order (RequestQueue); live messages pass the
 * recovery gate (ReplayGate), then the writer, once per turn (FrameWriter).
 */
export class Connection {
  readonly clientId: string
  readonly #ws: WebSocket
  readonly #authenticator: Authenticator | undefined
  #identity: Identity | undefined
  /** Closes the connection with 1008 when its token expires, unless refreshed. */
  #expiry: NodeJS.Timeout | undefined
  readonly #broker: Broker
  readonly #clients: Clients
  readonly #session: BrokerSession
  readonly #log: ConnectionLogger
  readonly #maxBufferedBytes: number
  readonly #maxPayload: number
  readonly #writer: FrameWriter
  readonly #closeGrace: number
  readonly #queue = new RequestQueue()
  readonly #gate = new ReplayGate()
  readonly #flood: FloodGuard | undefined
  /** Terminates the client if a close handshake the server began does not finish. */
  #graceTimer: NodeJS.Timeout | undefined
  /** Whether the client answered the last ping. */
  #alive = true

  constructor ({ ws, socket, scheduler, broker, clients, clientId, log, maxBufferedBytes, maxPayload, closeGrace, rateLimit, identity, authenticator, conflation }: ConnectionOptions) {
    this.clientId = clientId
    this.#authenticator = authenticator
    this.#log = log
    this.#setIdentity(identity)
    this.#ws = ws
    this.#writer = new FrameWriter({
      // Once closing (1013 included) nothing more is queued.
      isOpen: () => ws.readyState === WebSocket.OPEN,
      socket,
      scheduler,
      maxBufferedBytes,
      onOverflow: (buffered) => { this.#slowConsumer(buffered) },
      onDrop: (messages) => { clients.dropped += messages },
      conflation
    })
    this.#broker = broker
    this.#clients = clients
    this.#maxBufferedBytes = maxBufferedBytes
    this.#maxPayload = maxPayload
    this.#closeGrace = closeGrace
    this.#flood = rateLimit === false ? undefined : new FloodGuard(rateLimit)
    this.#session = broker.connect(this)
    this.#send({ type: 'welcome', clientId })
  }

  /** A frame arrived: queue it behind the requests still running. */
  receive (data: Buffer, isBinary: boolean): void {
    const flood = this.#flood
    if (this.#ws.readyState !== WebSocket.OPEN || flood?.flooding === true) return
    if (flood !== undefined && !flood.take()) {
      this.#refuse(data, isBinary, flood)
      return
    }
    if (data.length > this.#maxPayload) {
      this.#oversized(data, isBinary)
      return
    }
    let request: Request
    try {
      request = parseFrame(data, isBinary)
    } catch (err) {
      this.#queue.after(() => { this.#fail(err, undefined) })
      return
    }
    // A publish after a subscribe sees that subscription live; publishes
    // among themselves are pipelined (RequestQueue).
    if (request.action === 'publish') this.#queue.run(async () => await this.#publish(request), { barrier: false })
    else this.#queue.run(async () => await this.#handle(request), { barrier: true })
  }

  /**
   * A frame over the rate limit is answered RATE_LIMITED (with its id); a
   * flooding client is closed with 1008 once the replies already due are out.
   */
  #refuse (data: Buffer, isBinary: boolean, flood: FloodGuard): void {
    if (flood.flooding) {
      this.#log.info({ clientId: this.clientId }, 'flooding after rate limiting: closing')
      this.#queue.after(() => { this.close(1008, 'rate limit exceeded') })
      return
    }
    this.#clients.rateLimited++
    const id = isBinary ? undefined : requestIdOf(data)
    this.#queue.after(() => { this.#fail(new PUBSUB_ERR_RATE_LIMITED(), id) })
  }

  /**
   * A frame over maxPayload is refused BAD_REQUEST (with its id, so that the
   * publisher's promise settles) rather than closing the connection: its
   * subscriptions stay.
   */
  #oversized (data: Buffer, isBinary: boolean): void {
    const id = isBinary ? undefined : requestIdOf(data)
    const error = new PUBSUB_ERR_BAD_REQUEST(`the frame is ${data.length} bytes, over the ${this.#maxPayload}-byte limit that maxPayload (MAX_PAYLOAD) sets`)
    this.#queue.after(() => { this.#fail(error, id) })
  }

  /** The token's subject: presence lists it (rather than the clientId) when auth is on. */
  get sub (): string | undefined {
    return this.#identity?.sub
  }

  /** The socket closed: every subscription ends now. Safe to call again. */
  onSocketClose (): void {
    this.#session.close()
    this.#writer.discard()
    this.#clients.dropped += this.#gate.drop()
    clearTimeout(this.#graceTimer)
    clearTimeout(this.#expiry)
  }

  /**
   * ws has begun a close after a protocol error (1009 for a frame over
   * maxPayload): let its close frame go out, and terminate only if the
   * handshake does not finish within closeGrace.
   */
  onSocketError (): void {
    this.#terminateLater()
  }

  /**
   * Closes the connection after the frames already queued (1001 at
   * shutdown), and terminates it if the client has not completed the close
   * handshake within closeGrace. Safe to call again: the first close stands.
   */
  close (code: number, reason: string): void {
    this.#writer.flush()
    this.#closeSoon(code, reason)
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
    const frame = message.frame(subscription)
    const gate = this.#gate
    if (gate.open || gate.offer(message, subscription, frame)) {
      this.#writer.deliver(message, subscription, frame)
    } else if (gate.heldBytes > this.#maxBufferedBytes) {
      // Held while a replay waits for the client to read: the same bound.
      this.#slowConsumer(gate.heldBytes)
    }
  }

  /** The node lost messages of a subscription it could not replay: the client is told (`reset`), and live delivery goes on. */
  reset (subscription: string, position: Position | undefined): void {
    // A subscribe of this key is under way: its ack gives the client a fresh position.
    if (this.#gate.holding(subscription)) return
    this.#gate.forget(subscription)
    this.#send({ type: 'reset', topic: subscription, ...position })
  }

  /** Runs any request but a publish in its turn; it replies as it goes (a subscribe: ack, then replay). */
  async #handle (request: Exclude<Request, { action: 'publish' }>): Promise<undefined> {
    // Queued before a close: the client is gone or going.
    if (this.#ws.readyState !== WebSocket.OPEN) return undefined
    try {
      await this.#run(request)
    } catch (err) {
      this.#fail(err, request.id)
    }
    return undefined
  }

  /** Runs a publish now; resolves with the reply to send when its turn comes. */
  async #publish (request: Extract<Request, { action: 'publish' }>): Promise<Reply> {
    // Queued before a close: the client is gone or going.
    if (this.#ws.readyState !== WebSocket.OPEN) return undefined
    try {
      assertMayPublish(this.#identity, request.topic)
      const { topic, seq, epoch, duplicate } = await this.#broker.publish(request.topic, request.message, { key: request.key, transport: 'ws', client: true })
      // A keyed publish's ack names the epoch too, so that a resend can be matched with the first.
      const ack = encodeTextFrame(publishAckJson(request.id, topic, seq, request.key === undefined ? undefined : epoch, duplicate))
      return () => { this.#writer.send(ack) }
    } catch (err) {
      return () => { this.#fail(err, request.id) }
    }
  }

  async #run (request: Exclude<Request, { action: 'publish' }>): Promise<void> {
    switch (request.action) {
      case 'subscribe':
        await this.#subscribe(request)
        return
      case 'unsubscribe':
        await this.#session.unsubscribe(request.topic)
        this.#gate.forget(request.topic)
        this.#writer.forget(request.topic)
        this.#send({ type: 'ack', id: request.id, action: 'unsubscribe', topic: request.topic })
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
    assertMaySubscribe(this.#identity, key)
    this.#gate.hold(key)
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
        floor = { seq: (replay.at(-1) as Message).seq, epoch: result.epoch as string }
      }
    } finally {
      for (const { message, subscription, frame } of this.#gate.release(floor)) this.#writer.deliver(message, subscription, frame)
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
    // A token without a later refresh ends the connection when it expires.
    this.#expiry = expiryTimer(identity, ({ sub }) => {
      this.#log.info({ clientId: this.clientId, sub }, 'token expired: closing')
      this.close(1008, 'token expired')
    })
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
    this.#clients.error(code)
    this.#send({ type: 'error', id, code, message: error.message })
  }

  /** Replies; messages go to the writer with `message` set (FrameWriter applies the slow-consumer bound to both). */
  #send (frame: ServerFrame): void {
    this.#writer.send(encodeTextFrame(JSON.stringify(frame)))
  }

  /**
   * A client that let more than maxBufferedBytes pile up: its subscriptions
   * end at once and it is closed with 1013.
   */
  #slowConsumer (buffered: number): void {
    this.#log.warn({ clientId: this.clientId, bufferedAmount: buffered }, 'slow consumer: closing')
    this.#clients.slowConsumers++
    this.#session.close()
    this.#writer.discard()
    this.#clients.dropped += this.#gate.drop()
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
    this.#graceTimer = setTimeout(() => { if (ws.readyState !== WebSocket.CLOSED) ws.terminate() }, this.#closeGrace)
  }
}

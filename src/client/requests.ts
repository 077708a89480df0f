// Requests matched to their replies by id: what is sent and waits for its
// reply, what waits for the connection, and the timeout that bounds both.
import type {
  Action, AuthAck, ClientFrame, PongFrame, PublishAck, SubscribeAck, UnsubscribeAck
} from '../protocol/frames.js'
import { PubsubClientError } from './errors.js'

/** A request as the client writes it: the tracker adds the id. */
export type Outgoing<A extends Action = Action> = A extends Action ? Omit<Extract<ClientFrame, { action: A }>, 'id'> : never

/** The frame that answers each action (an `error` frame rejects instead). */
export interface Replies {
  subscribe: SubscribeAck
  unsubscribe: UnsubscribeAck
  publish: PublishAck
  auth: AuthAck
  ping: PongFrame
}

export type Reply = Replies[Action]

/** What the tracker needs of the connection. */
export interface Sender {
  send (data: string): void
}

interface Request {
  id: number
  frame: string
  /** Runs as the reply is read, before `resolve`'s callbacks (a microtask later). */
  onReply: ((reply: Reply) => void) | undefined
  /** Sent again after a reconnect rather than rejected (a publish: its key makes that safe). */
  resend: boolean
  resolve: (reply: Reply) => void
  reject: (error: PubsubClientError) => void
  timer: ReturnType<typeof setTimeout>
}

export interface RequestTrackerOptions {
  /** ms before a request without a reply rejects with `TIMEOUT`. */
  timeout: number
  /** Requests that may wait for the connection; past it they reject with `QUEUE_FULL`. */
  maxQueued: number
}

export class RequestTracker {
  readonly #timeout: number
  readonly #maxQueued: number
  #nextId = 1
  /** The open connection, between its welcome and its close. */
  #socket: Sender | undefined
  /** Sent, waiting for their reply. */
  readonly #inFlight = new Map<number, Request>()
  /** Waiting for the connection, in call order. */
  readonly #queued = new Map<number, Request>()

  constructor (options: RequestTrackerOptions) {
    this.#timeout = options.timeout
    this.#maxQueued = options.maxQueued
  }

  /**
   * Sends `body` with a fresh id, at once when connected, else once
   * `flush` runs; resolves with the reply to that id. `onReply` sees the
   * reply as it is read.
   */
  async request<F extends Outgoing> (body: F, onReply?: (reply: Replies[F['action']]) => void, resend = false): Promise<Replies[F['action']]> {
    // The reply carries the request's id, and the server answers an action
    // with its own ack: the id is what makes the reply the action's.
    return await this.#track(body, onReply as ((reply: Reply) => void) | undefined, resend) as Replies[F['action']]
  }

  async #track (body: Outgoing, onReply: ((reply: Reply) => void) | undefined, resend: boolean): Promise<Reply> {
    const id = this.#nextId++
    const frame = JSON.stringify({ ...body, id })
    return await new Promise<Reply>((resolve, reject) => {
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
          reject(new PubsubClientError('TIMEOUT', `no reply to ${body.action} within ${this.#timeout} ms`))
        }, this.#timeout)
      }
      if (this.#socket !== undefined) {
        this.#send(this.#socket, request)
      } else if (this.#queued.size < this.#maxQueued) {
        this.#queued.set(id, request)
      } else {
        clearTimeout(request.timer)
        reject(new PubsubClientError('QUEUE_FULL', `not connected and ${this.#maxQueued} requests already wait`))
      }
    })
  }

  /** The connection is open (welcomed): new requests go out at once. */
  attach (socket: Sender): void {
    this.#socket = socket
  }

  /** Sends what waited for the connection, in call order. */
  flush (): void {
    const queued = [...this.#queued.values()]
    this.#queued.clear()
    for (const request of queued) this.#send(this.#socket as Sender, request)
  }

  /**
   * The connection closed: publishes wait to go again, ahead of what was
   * queued since; the other requests in flight reject with `DISCONNECTED`.
   */
  detach (code: number): void {
    this.#socket = undefined
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
  }

  /** Rejects everything sent or waiting with `error`. */
  close (error: PubsubClientError): void {
    this.#rejectAll(this.#inFlight, error)
    this.#rejectAll(this.#queued, error)
  }

  /** An ack or pong: settles its request; ignored when nothing waits for its id. */
  resolve (reply: Reply): void {
    this.#settle(reply.id, (request) => {
      request.onReply?.(reply)
      request.resolve(reply)
    })
  }

  /** An error frame: rejects its request; false when nothing waits for `id`. */
  reject (id: unknown, error: PubsubClientError): boolean {
    return this.#settle(id, (request) => { request.reject(error) })
  }

  #send (socket: Sender, request: Request): void {
    this.#inFlight.set(request.id, request)
    socket.send(request.frame)
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
}

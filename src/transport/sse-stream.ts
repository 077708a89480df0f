import type { ServerResponse } from 'node:http'
import type { Broker, BrokerSession } from '../pubsub/broker.js'
import type { Recovery } from '../pubsub/engine.js'
import type { Message } from '../pubsub/message.js'
import { ackFloor } from '../pubsub/position.js'
import type { Position } from '../pubsub/session.js'
import type { Clients } from './clients.js'
import type { ConflationPolicy } from './conflation.js'
import type { FlushScheduler } from './flush-scheduler.js'
import { FrameWriter } from './frame-writer.js'
import { ReplayGate } from './replay-gate.js'
import type { ConnectionLogger } from './ws-connection.js'

export interface SseStreamOptions {
  response: ServerResponse
  scheduler: FlushScheduler
  broker: Broker
  /** Where the stream's counters go (dropped, slow consumers). */
  clients: Clients
  clientId: string
  log: ConnectionLogger
  /** Bytes queued for the client past which the stream is cut (unless its topic conflates). */
  maxBufferedBytes: number
  conflation?: ConflationPolicy
}

const PING = Buffer.from(': ping\n\n')

/**
 * One Server-Sent Events client: a single subscription, its replay when
 * resuming, then live events. Same limits and the same recovery rule
 * (ReplayGate) as a WebSocket connection: paced replay, a slow consumer is cut.
 */
export class SseStream {
  readonly clientId: string
  readonly #response: ServerResponse
  readonly #clients: Clients
  readonly #session: BrokerSession
  readonly #writer: FrameWriter
  readonly #log: ConnectionLogger
  readonly #maxBufferedBytes: number
  readonly #gate = new ReplayGate()
  #open = true

  constructor ({ response, scheduler, broker, clients, clientId, log, maxBufferedBytes, conflation }: SseStreamOptions) {
    this.clientId = clientId
    this.#response = response
    this.#clients = clients
    this.#log = log
    this.#maxBufferedBytes = maxBufferedBytes
    this.#writer = new FrameWriter({
      isOpen: () => this.#open,
      socket: response,
      scheduler,
      maxBufferedBytes,
      onOverflow: (buffered) => { this.#slowConsumer(buffered) },
      onDrop: (messages) => { clients.dropped += messages },
      conflation
    })
    this.#session = broker.connect(this)
  }

  /**
   * Subscribes and sends `event: subscribed` (for a topic with `id:
   * epoch:seq`, the position the stream resumes from: where it recovered
   * from, else the topic's latest), the replay, then what arrived
   * meanwhile, less what the replay had.
   */
  async start (topic: string, recovery: Recovery | undefined): Promise<void> {
    // Live events wait in the gate until `subscribed` and the replay are out.
    this.#gate.hold(topic)
    const { replay, ...result } = await this.#session.subscribe(topic, recovery)
    let floor = ackFloor(result, recovery?.since)
    const id = floor === undefined ? '' : `id: ${floor.epoch}:${floor.seq}\n`
    this.#writer.send(Buffer.from(`${id}event: subscribed\ndata: ${JSON.stringify({ clientId: this.clientId, ...result })}\n\n`))
    if (replay !== undefined) {
      await this.#writer.sendPaced(replay, (message) => message.sseEvent())
      floor = { seq: (replay.at(-1) as Message).seq, epoch: result.epoch as string }
    }
    for (const { message, subscription, frame } of this.#gate.release(floor)) this.#writer.deliver(message, subscription, frame)
  }

  deliver (message: Message, subscription: string | undefined): void {
    const event = message.sseEvent(subscription)
    const gate = this.#gate
    if (gate.open || gate.offer(message, subscription, event)) {
      this.#writer.deliver(message, subscription, event)
    } else if (gate.heldBytes > this.#maxBufferedBytes) {
      this.#slowConsumer(gate.heldBytes)
    }
  }

  /**
   * Messages may have been lost (see Subscriber.reset): `event: reset`, whose
   * id (for a topic) is where the stream goes on from, so that a reconnect
   * resumes from there rather than asking again for what is gone.
   */
  reset (subscription: string, position: Position | undefined): void {
    // Before `subscribed` is out, the subscribe's own position stands.
    if (this.#gate.holding(subscription)) return
    this.#gate.forget(subscription)
    const id = position === undefined ? '' : `id: ${position.epoch}:${position.seq}\n`
    this.#writer.send(Buffer.from(`${id}event: reset\ndata: ${JSON.stringify({ topic: subscription, ...position })}\n\n`))
  }

  /** A comment line, so that proxies keep the stream open and a dead peer shows up. */
  heartbeat (): void {
    this.#writer.send(PING)
  }

  /** Sends `event: error` and ends the stream (a failed subscribe). */
  fail (code: string, message: string): void {
    this.#writer.send(Buffer.from(`event: error\ndata: ${JSON.stringify({ code, message })}\n\n`))
    this.close()
  }

  /** Ends the stream after what is queued (shutdown): SSE has no close code. Safe to call again. */
  close (): void {
    if (!this.#open) return
    this.#writer.flush()
    this.#open = false
    this.#session.close()
    this.#response.end()
  }

  /** The response closed, whoever closed it. */
  onResponseClose (): void {
    this.#open = false
    this.#session.close()
    this.#writer.discard()
    this.#clients.dropped += this.#gate.drop()
  }

  // No close code in SSE: the stream is cut, and EventSource comes back with Last-Event-ID.
  #slowConsumer (buffered: number): void {
    this.#log.warn({ clientId: this.clientId, bufferedAmount: buffered }, 'slow SSE consumer: closing')
    this.#clients.slowConsumers++
    this.onResponseClose()
    this.#response.destroy()
  }
}

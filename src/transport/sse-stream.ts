import type { ServerResponse } from 'node:http'
import { FrameWriter } from './frame-writer.js'
import type { ConnectionLogger } from './ws-connection.js'
import type { FlushScheduler } from './flush-scheduler.js'
import type { Broker, BrokerSession } from '../pubsub/broker.js'
import type { Recovery } from '../pubsub/engine.js'
import type { Message } from '../pubsub/message.js'
import { ackFloor, isBehind } from '../pubsub/position.js'
import type { Position } from '../pubsub/session.js'

export interface SseStreamOptions {
  response: ServerResponse
  scheduler: FlushScheduler
  broker: Broker
  clientId: string
  log: ConnectionLogger
  /** Bytes queued for the client past which the stream is cut. */
  maxBufferedBytes: number
}

const PING = Buffer.from(': ping\n\n')

interface Held { message: Message, event: Buffer }

/**
 * One Server-Sent Events client: a single subscription, its replay when
 * resuming, then live events. Same limits as a WebSocket connection: paced
 * replay, a slow consumer is cut.
 */
export class SseStream {
  readonly clientId: string
  readonly #response: ServerResponse
  readonly #broker: Broker
  readonly #session: BrokerSession
  readonly #writer: FrameWriter
  readonly #log: ConnectionLogger
  readonly #maxBufferedBytes: number
  #open = true
  // Live events wait here until the `subscribed` event and the replay are out.
  #held: Held[] | undefined = []
  #heldBytes = 0
  /** Where the ack or replay ended: a live copy of a message at or before it, arriving late, is dropped (see Connection). */
  #floor: Position | undefined

  constructor ({ response, scheduler, broker, clientId, log, maxBufferedBytes }: SseStreamOptions) {
    this.clientId = clientId
    this.#response = response
    this.#broker = broker
    this.#log = log
    this.#maxBufferedBytes = maxBufferedBytes
    this.#writer = new FrameWriter({
      isOpen: () => this.#open,
      socket: response,
      scheduler,
      maxBufferedBytes,
      onOverflow: (buffered) => { this.#slowConsumer(buffered) },
      onDrop: (messages) => { broker.counters.dropped += messages }
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
    const { replay, ...result } = await this.#session.subscribe(topic, recovery)
    let floor = ackFloor(result, recovery?.since)
    const id = floor === undefined ? '' : `id: ${floor.epoch}:${floor.seq}\n`
    this.#write(Buffer.from(`${id}event: subscribed\ndata: ${JSON.stringify({ clientId: this.clientId, ...result })}\n\n`))
    if (replay !== undefined) {
      await this.#writer.sendPaced(replay, (message) => message.sseEvent())
      floor = { seq: (replay[replay.length - 1] as Message).seq, epoch: result.epoch as string }
    }
    const held = this.#held as Held[]
    this.#held = undefined
    for (const { message, event } of held) if (floor === undefined || !isBehind(message, floor)) this.#writer.send(event, true)
    this.#floor = floor
  }

  deliver (message: Message, subscription: string | undefined): void {
    const event = message.sseEvent(subscription)
    if (this.#held === undefined) {
      if (this.#floor !== undefined) {
        if (isBehind(message, this.#floor)) return
        this.#floor = undefined
      }
      this.#writer.send(event, true)
      return
    }
    this.#held.push({ message, event })
    this.#heldBytes += event.length
    if (this.#heldBytes > this.#maxBufferedBytes) this.#slowConsumer(this.#heldBytes)
  }

  /**
   * Messages may have been lost (see Subscriber.reset): `event: reset`, whose
   * id (for a topic) is where the stream goes on from, so that a reconnect
   * resumes from there rather than asking again for what is gone.
   */
  reset (subscription: string, position: Position | undefined): void {
    // Before `subscribed` is out, the subscribe's own position stands.
    if (this.#held !== undefined) return
    this.#floor = undefined
    const id = position === undefined ? '' : `id: ${position.epoch}:${position.seq}\n`
    this.#write(Buffer.from(`${id}event: reset\ndata: ${JSON.stringify({ topic: subscription, ...position })}\n\n`))
  }

  /** A comment line, so that proxies keep the stream open and a dead peer shows up. */
  heartbeat (): void {
    this.#write(PING)
  }

  /** Sends `event: error` and ends the stream (a failed subscribe). */
  fail (code: string, message: string): void {
    this.#write(Buffer.from(`event: error\ndata: ${JSON.stringify({ code, message })}\n\n`))
    this.end()
  }

  /** Ends the stream after what is queued (shutdown). */
  end (): void {
    if (!this.#open) return
    this.#writer.flush()
    this.#open = false
    this.#session.close()
    this.#response.end()
  }

  /** The response closed, whoever closed it. */
  closed (): void {
    this.#open = false
    this.#session.close()
    this.#writer.discard()
    this.#broker.counters.dropped += this.#held?.length ?? 0
    if (this.#held !== undefined) this.#held = []
  }

  #write (event: Buffer): void {
    this.#writer.send(event)
  }

  // No close code in SSE: the stream is cut, and EventSource comes back with Last-Event-ID.
  #slowConsumer (buffered: number): void {
    this.#log.warn({ clientId: this.clientId, bufferedAmount: buffered }, 'slow SSE consumer: closing')
    this.#broker.counters.slowConsumers++
    this.closed()
    this.#response.destroy()
  }
}

import type { FastifyBaseLogger } from 'fastify'
import type { ServerResponse } from 'node:http'
import { FrameWriter, type FlushScheduler } from '../protocol/frame-writer.js'
import type { Broker, BrokerSession } from '../pubsub/broker.js'
import type { Recovery } from '../pubsub/engine.js'
import type { Message } from '../pubsub/message.js'

export interface SseStreamOptions {
  response: ServerResponse
  scheduler: FlushScheduler
  broker: Broker
  clientId: string
  log: FastifyBaseLogger
  /** Bytes queued for the client past which the stream is cut. */
  maxBufferedBytes: number
}

const PING = Buffer.from(': ping\n\n')

interface Held { seq: number, event: Buffer }

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
  readonly #log: FastifyBaseLogger
  readonly #maxBufferedBytes: number
  #open = true
  // Live events wait here until the `subscribed` event and the replay are out.
  #held: Held[] | undefined = []
  #heldBytes = 0
  /** The last replayed seq: a live copy of a replayed message arriving late is dropped (see Connection). */
  #floor = -1

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
   * Subscribes and sends `event: subscribed` (with `id: epoch:seq` for a
   * topic, so that a reconnect before any message resumes from here), the
   * replay, then what arrived meanwhile, less what the replay had.
   */
  async start (topic: string, recovery: Recovery | undefined): Promise<void> {
    const { replay, ...result } = await this.#session.subscribe(topic, recovery)
    const id = result.epoch === undefined ? '' : `id: ${result.epoch}:${result.seq as number}\n`
    this.#write(Buffer.from(`${id}event: subscribed\ndata: ${JSON.stringify({ clientId: this.clientId, ...result })}\n\n`))
    let floor = -1
    if (result.recovered === true) {
      floor = (recovery as Recovery).since
      if (replay !== undefined) {
        await this.#writer.sendPaced(replay, (message) => message.sseEvent())
        floor = (replay[replay.length - 1] as Message).seq
      }
    }
    const held = this.#held as Held[]
    this.#held = undefined
    for (const { seq, event } of held) if (seq > floor) this.#writer.send(event, true)
    this.#floor = floor
  }

  deliver (message: Message, subscription: string | undefined): void {
    const event = message.sseEvent(subscription)
    if (this.#held === undefined) {
      if (message.seq <= this.#floor) return
      this.#floor = -1
      this.#writer.send(event, true)
      return
    }
    this.#held.push({ seq: message.seq, event })
    this.#heldBytes += event.length
    if (this.#heldBytes > this.#maxBufferedBytes) this.#slowConsumer(this.#heldBytes)
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

import type { Writable } from 'node:stream'
import type { Message } from '../pubsub/message.js'
import { LatestPerTopic, type ConflationPolicy } from './conflation.js'
import type { FlushScheduler } from './flush-scheduler.js'

/**
 * One connection may hold at most this many times maxBufferedBytes, queued
 * and unsent together, whatever its backlog: the bound on a single turn.
 */
export const HARD_CAP_FACTOR = 8

export interface FrameWriterOptions {
  /** Nothing is queued or written once this is false. */
  isOpen: () => boolean
  /** Takes the bytes: the TCP socket under a WebSocket, or an SSE response. */
  socket: Writable
  scheduler: FlushScheduler
  /** A backlog (see FrameWriter.send) past which `send` calls `onOverflow` instead of queueing. */
  maxBufferedBytes: number
  /** A slow consumer: the owner ends the connection its own way (1013, or a cut stream). */
  onOverflow: (bufferedAmount: number) => void
  /** Live messages (frames sent with `message`) that will never be written: over the bound, closing, or discarded. For metrics. */
  onDrop: (messages: number) => void
  /** Which live messages are held, latest per topic, rather than taken for a slow consumer (`deliver`). */
  conflation?: ConflationPolicy | undefined
}

/**
 * One connection's outgoing frames, in order, with the slow-consumer bound
 * (maxBufferedBytes) and replay pacing that WebSocket and SSE share.
 *
 * The bound judges what the client failed to read, not what the server
 * queued a moment ago. Within one turn Node hands nothing more to the kernel
 * once the socket's send buffer is full (the rest waits for the next poll;
 * an SSE response even holds its writes corked until the next tick), so the
 * bytes queued and unsent mid-turn grow with the turn's own burst however
 * fast the client reads. What counts is the backlog the socket still held
 * when the event loop came back to it, less what was written in the turn
 * before: bytes that have had at least one poll to go and did not.
 */
export class FrameWriter {
  readonly #isOpen: () => boolean
  readonly #socket: Writable
  readonly #scheduler: FlushScheduler
  readonly #maxBufferedBytes: number
  readonly #onOverflow: (bufferedAmount: number) => void
  readonly #onDrop: (messages: number) => void
  readonly #conflation: ConflationPolicy | undefined
  readonly #hardCap: number
  #frames: Buffer[] = []
  #bytes = 0
  /** How many of #frames are live messages. */
  #messages = 0
  /** The scheduler's turn that #backlog was measured in. */
  #turn = -1
  /** At the first frame of #turn: the socket's unsent bytes older than the previous turn's writes. */
  #backlog = 0
  /** The turn of the last write, and the bytes it added to the socket in that turn. */
  #writtenTurn = -1
  #written = 0
  /** Conflated messages waiting for the client to catch up; made the first time it falls behind on one. */
  #latest: LatestPerTopic | undefined
  /** Whether a release of #latest is scheduled. */
  #releasing = false
  /** #release, bound only for a connection that falls behind on a conflating topic: the others pay no closure. */
  #onDrained: (() => void) | undefined

  constructor ({ isOpen, socket, scheduler, maxBufferedBytes, onOverflow, onDrop, conflation }: FrameWriterOptions) {
    this.#isOpen = isOpen
    this.#socket = socket
    this.#scheduler = scheduler
    this.#maxBufferedBytes = maxBufferedBytes
    this.#hardCap = HARD_CAP_FACTOR * maxBufferedBytes
    this.#onOverflow = onOverflow
    this.#onDrop = onDrop
    this.#conflation = conflation
  }

  /** Bytes waiting: queued this turn plus what the socket has not sent yet. */
  get bufferedAmount (): number {
    return this.#bytes + this.#socket.writableLength
  }

  /**
   * Every outgoing frame passes here (`message`: a live message, for the
   * dropped count). A slow consumer, whose backlog (see the class) is over
   * maxBufferedBytes, or which holds more than HARD_CAP_FACTOR times that
   * queued and unsent (one turn's burst is not judged by the backlog, but
   * memory stays bounded), gets no more: the frame is not queued and
   * `onOverflow` runs.
   */
  send (frame: Buffer, message = false): void {
    if (!this.#offer(frame, message)) this.#overflow(message)
  }

  /**
   * A live message. A client that is behind (see `send`) gets no more of
   * it, unless its topic conflates: then it is held as its topic's latest,
   * replacing (and counting as skipped) the one held before, and the latest
   * of each topic go out, with `skipped`, once the socket has drained.
   */
  deliver (message: Message, subscription: string | undefined, frame: Buffer): void {
    const latest = this.#latest
    // Once a topic has a message held, later ones wait behind it: order per topic.
    if ((latest === undefined || !latest.has(message.topic)) && this.#offer(frame, true)) return
    if (this.#conflation?.conflates(message.topic) === true) this.#conflate(message, subscription, frame)
    else this.#overflow(true)
  }

  /** Queues `frame`, or drops it when closed; false when the client is behind. */
  #offer (frame: Buffer, message: boolean): boolean {
    if (!this.#isOpen()) {
      if (message) this.#onDrop(1)
      return true
    }
    this.#measure()
    if (this.#backlog > this.#maxBufferedBytes || this.bufferedAmount > this.#hardCap) return false
    this.#push(frame)
    if (message) this.#messages++
    return true
  }

  #overflow (message: boolean): void {
    if (message) this.#onDrop(1)
    this.#onOverflow(this.bufferedAmount)
  }

  /** Holds a conflating message; memory stays within the hard cap, queued and held together. */
  #conflate (message: Message, subscription: string | undefined, frame: Buffer): void {
    const latest = this.#latest ??= new LatestPerTopic()
    if (latest.hold(message, subscription, frame)) (this.#conflation as ConflationPolicy).skipped(1)
    if (this.bufferedAmount + latest.bytes > this.#hardCap) {
      this.#onOverflow(this.bufferedAmount + latest.bytes)
      return
    }
    this.#releaseWhenDrained()
  }

  /**
   * Once this turn's frames are written, waits for the socket to drain (if
   * it holds more than its high-water mark) and sends what is held.
   */
  #releaseWhenDrained (): void {
    if (this.#releasing) return
    this.#releasing = true
    const release = this.#onDrained ??= () => { this.#release() }
    setImmediate(() => {
      const socket = this.#socket
      if (socket.writableNeedDrain) socket.once('drain', release)
      else release()
    })
  }

  /**
   * Sends the held messages, oldest topic first, now that the socket has
   * drained (or never filled past its high-water mark). A client still not
   * reading is behind again at its next message, which is held in turn.
   */
  #release (): void {
    this.#releasing = false
    const held = (this.#latest as LatestPerTopic).take()
    if (!this.#isOpen()) {
      this.#onDrop(held.length)
      return
    }
    // All of it: held and queued never pass the hard cap together (#conflate).
    const policy = this.#conflation as ConflationPolicy
    for (const { message, subscription, frame, skipped } of held) {
      this.#push(skipped === 0 ? frame : policy.encode(message, subscription, skipped))
      this.#messages++
    }
  }

  /**
   * Queues `items` at the pace the client reads, pausing whenever half of
   * maxBufferedBytes waits: a replay longer than the bound is paced, not
   * taken for a slow consumer. Stops when the connection closes.
   */
  async sendPaced<T> (items: Iterable<T>, encode: (item: T) => Buffer): Promise<void> {
    for (const item of items) {
      if (this.bufferedAmount > this.#maxBufferedBytes / 2) await this.#drain()
      if (!this.#isOpen()) return
      this.#push(encode(item))
    }
  }

  #push (frame: Buffer): void {
    this.#measure()
    if (this.#bytes === 0) this.#scheduler.add(this)
    this.#frames.push(frame)
    this.#bytes += frame.length
    this.#scheduler.queued(frame.length)
  }

  /** Once a turn, before its first frame: the backlog (see the class). */
  #measure (): void {
    const turn = this.#scheduler.turn
    if (turn === this.#turn) return
    this.#turn = turn
    // FIFO: what the previous turn wrote is the tail of what the socket holds.
    this.#backlog = this.#socket.writableLength - (this.#writtenTurn === turn - 1 ? this.#written : 0)
  }

  flush (): void {
    const frames = this.#frames
    if (frames.length === 0) return
    const messages = this.#messages
    this.#frames = []
    this.#bytes = 0
    this.#messages = 0
    // Nothing may follow a close frame, which ws may have sent meanwhile.
    if (!this.#isOpen()) {
      if (messages > 0) this.#onDrop(messages)
      return
    }
    const socket = this.#socket
    const turn = this.#scheduler.turn
    if (turn !== this.#writtenTurn) {
      this.#writtenTurn = turn
      this.#written = 0
    }
    // What the socket holds more afterwards: none of it when the kernel took
    // it all at once, and an SSE response's chunk framing included.
    const before = socket.writableLength
    socket.write(frames.length === 1 ? frames[0] as Buffer : Buffer.concat(frames))
    this.#written += socket.writableLength - before
  }

  /**
   * Writes what is queued and resolves once the socket has taken it all
   * below its high-water mark (`drain`), or has closed.
   */
  async #drain (): Promise<void> {
    this.flush()
    const socket = this.#socket
    if (!socket.writableNeedDrain) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done)
        socket.off('close', done)
        resolve()
      }
      socket.on('drain', done)
      socket.on('close', done)
    })
  }

  /** A subscription ended: what is held through it must not follow its ack. */
  forget (subscription: string): void {
    const forgotten = this.#latest?.forget(subscription) ?? 0
    if (forgotten > 0) this.#onDrop(forgotten)
  }

  /** Drops what is queued and held: the connection is being given up. */
  discard (): void {
    const dropped = this.#messages + (this.#latest?.clear() ?? 0)
    if (dropped > 0) this.#onDrop(dropped)
    this.#frames = []
    this.#bytes = 0
    this.#messages = 0
  }
}

import type { Writable } from 'node:stream'
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

  constructor ({ isOpen, socket, scheduler, maxBufferedBytes, onOverflow, onDrop }: FrameWriterOptions) {
    this.#isOpen = isOpen
    this.#socket = socket
    this.#scheduler = scheduler
    this.#maxBufferedBytes = maxBufferedBytes
    this.#hardCap = HARD_CAP_FACTOR * maxBufferedBytes
    this.#onOverflow = onOverflow
    this.#onDrop = onDrop
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
    if (!this.#isOpen()) {
      if (message) this.#onDrop(1)
      return
    }
    this.#measure()
    const buffered = this.bufferedAmount
    if (this.#backlog > this.#maxBufferedBytes || buffered > this.#hardCap) {
      if (message) this.#onDrop(1)
      this.#onOverflow(buffered)
      return
    }
    this.#push(frame)
    if (message) this.#messages++
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

  /** Drops what is queued: the connection is being given up. */
  discard (): void {
    if (this.#messages > 0) this.#onDrop(this.#messages)
    this.#frames = []
    this.#bytes = 0
    this.#messages = 0
  }
}

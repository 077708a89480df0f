import type { Writable } from 'node:stream'

/**
 * Writes the frames of every connection (WebSocket frames, or SSE events)
 * once per event-loop turn. A socket
 * that got several frames in the turn (a burst of publishes, a reply and a
 * message) gets them in one write: one syscall instead of one per frame,
 * which is what a delivery costs most. Frames are already encoded
 * (encodeTextFrame); ws is bypassed for them and only sends control frames
 * (pong, close), which never race ours because ours are not compressed.
 */
export class FlushScheduler {
  #dirty: FrameWriter[] = []
  #scheduled = false
  #frames = 0
  #since = 0

  /** Marks a writer as having frames to write this turn. */
  add (writer: FrameWriter): void {
    this.#dirty.push(writer)
    if (!this.#scheduled) {
      this.#scheduled = true
      this.#since = performance.now()
      // setImmediate: after every I/O callback of this turn, so that all the
      // publishes read in it coalesce.
      setImmediate(() => { this.flush() })
    }
  }

  /**
   * Counts a queued frame. A long turn (thousands of publishes read at once)
   * is flushed every MAX_HOLD_MS, so that clients get their first frames
   * while the server works through the rest instead of all at the end.
   */
  queued (): void {
    if ((++this.#frames & 255) === 0 && performance.now() - this.#since > MAX_HOLD_MS) this.flush()
  }

  flush (): void {
    this.#scheduled = false
    this.#since = performance.now()
    const dirty = this.#dirty
    this.#dirty = []
    for (const writer of dirty) writer.flush()
  }
}

/** The longest a frame waits in a busy turn before it is written. */
const MAX_HOLD_MS = 2

export interface FrameWriterOptions {
  /** Nothing is queued or written once this is false. */
  isOpen: () => boolean
  /** Takes the bytes: the TCP socket under a WebSocket, or an SSE response. */
  socket: Writable
  scheduler: FlushScheduler
  /** Bytes waiting past which `send` calls `onOverflow` instead of queueing. */
  maxBufferedBytes: number
  /** A slow consumer: the owner ends the connection its own way (1013, or a cut stream). */
  onOverflow: (bufferedAmount: number) => void
  /** Live messages (frames sent with `message`) that will never be written: over the bound, closing, or discarded. For metrics. */
  onDrop: (messages: number) => void
}

/**
 * One connection's outgoing frames, in order, with the slow-consumer bound
 * (maxBufferedBytes) and replay pacing that WebSocket and SSE share.
 */
export class FrameWriter {
  readonly #isOpen: () => boolean
  readonly #socket: Writable
  readonly #scheduler: FlushScheduler
  readonly #maxBufferedBytes: number
  readonly #onOverflow: (bufferedAmount: number) => void
  readonly #onDrop: (messages: number) => void
  #frames: Buffer[] = []
  #bytes = 0
  /** How many of #frames are live messages. */
  #messages = 0

  constructor ({ isOpen, socket, scheduler, maxBufferedBytes, onOverflow, onDrop }: FrameWriterOptions) {
    this.#isOpen = isOpen
    this.#socket = socket
    this.#scheduler = scheduler
    this.#maxBufferedBytes = maxBufferedBytes
    this.#onOverflow = onOverflow
    this.#onDrop = onDrop
  }

  /** Bytes waiting: queued this turn plus what the socket has not sent yet. */
  get bufferedAmount (): number {
    return this.#bytes + this.#socket.writableLength
  }

  /**
   * Every outgoing frame passes here (`message`: a live message, for the
   * dropped count). A client that lets more than maxBufferedBytes pile up
   * is a slow consumer: the frame is not queued and `onOverflow` runs, so
   * its backlog stops growing.
   */
  send (frame: Buffer, message = false): void {
    if (!this.#isOpen()) {
      if (message) this.#onDrop(1)
      return
    }
    const buffered = this.bufferedAmount
    if (buffered > this.#maxBufferedBytes) {
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
    if (this.#bytes === 0) this.#scheduler.add(this)
    this.#frames.push(frame)
    this.#bytes += frame.length
    this.#scheduler.queued()
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
    this.#socket.write(frames.length === 1 ? frames[0] as Buffer : Buffer.concat(frames))
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

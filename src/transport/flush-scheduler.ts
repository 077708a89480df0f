/** What the scheduler flushes: a FrameWriter. */
export interface Flushable {
  /** Writes what was queued this turn, in one write. */
  flush (): void
}

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
  #dirty: Flushable[] = []
  #scheduled = false
  /** setImmediate callbacks pending: the turn ends with the last of them. */
  #pending = 0
  #frames = 0
  #bytes = 0
  #since = 0
  #turn = 0

  /**
   * Turns ended so far: the turn now under way, for the slow-consumer bound
   * (FrameWriter). It moves at the last end-of-turn flush of a check phase
   * only, never at an early flush within the turn, so between two turns the
   * event loop has polled the sockets.
   */
  get turn (): number {
    return this.#turn
  }

  /** Marks a writer as having frames to write this turn. */
  add (writer: Flushable): void {
    this.#dirty.push(writer)
    if (!this.#scheduled) {
      this.#scheduled = true
      this.#since = performance.now()
      // setImmediate: after every I/O callback of this turn, so that all the
      // publishes read in it coalesce.
      this.#pending++
      setImmediate(() => { this.#endTurn() })
    }
  }

  /**
   * Counts a queued frame of `bytes`. A long turn (thousands of publishes
   * read at once) is flushed every MAX_HOLD_MS, so that clients get their
   * first frames while the server works through the rest instead of all at
   * the end; the clock is looked at every 256 frames, or every
   * CHECK_BYTES of frames when they are large.
   */
  // Re-entrant by design: the early flush runs inside the `#push` of the
  // writer that queued this frame, and flushes every dirty writer, that one
  // included, before its push returns.
  queued (bytes: number): void {
    this.#bytes += bytes
    if ((++this.#frames & 255) !== 0 && this.#bytes < CHECK_BYTES) return
    this.#bytes = 0
    if (performance.now() - this.#since > MAX_HOLD_MS) this.#flushEarly()
  }

  /**
   * A write within the turn. The writers queued after it are scheduled
   * again, with a flush of their own: keeping one flush for the whole turn
   * made a saturated fan-out (max rate, 1,000 subscribers) cost five times
   * the CPU per delivery (bench, 540,000 against 105,000 deliveries/s).
   */
  #flushEarly (): void {
    this.#scheduled = false
    this.#write()
  }

  #endTurn (): void {
    this.#scheduled = false
    this.#write()
    if (--this.#pending === 0) this.#turn++
  }

  #write (): void {
    this.#since = performance.now()
    const dirty = this.#dirty
    this.#dirty = []
    for (const writer of dirty) writer.flush()
  }
}

/** The longest a frame waits in a busy turn before it is written. */
const MAX_HOLD_MS = 2

/** Bytes queued (all connections) between two looks at the clock in a busy turn: 256 frames of 60 KB would be 15 MB. */
const CHECK_BYTES = 1024 * 1024

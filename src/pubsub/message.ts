import { encodeSseEvent, encodeTextFrame, messageJson } from '../protocol/frame.js'

/**
 * One published message as every subscriber sees it. The data is serialized
 * once, at publish; the outgoing WebSocket frame (header and text) is built
 * once per distinct `subscription` value and shared by every connection that
 * gets it.
 */
export class Message {
  readonly topic: string
  readonly seq: number
  readonly epoch: string
  readonly ts: number
  /** `data` as JSON text, exactly as it goes on the wire. */
  readonly json: string
  #data: unknown
  #parsed = false
  #frame: Buffer | undefined
  /** Frames by pattern; SSE events by `\n` + pattern (no pattern holds a newline). */
  #byPattern: Map<string, Buffer> | undefined
  #event: Buffer | undefined

  constructor (topic: string, seq: number, epoch: string, ts: number, json: string) {
    this.topic = topic
    this.seq = seq
    this.epoch = epoch
    this.ts = ts
    this.json = json
  }

  /**
   * The published value, parsed from `json` on first use so that in-process
   * subscribers see exactly what WebSocket clients see, whatever the engine.
   * Shared by every in-process subscriber: treat it as read-only.
   */
  get data (): unknown {
    if (!this.#parsed) {
      this.#data = JSON.parse(this.json)
      this.#parsed = true
    }
    return this.#data
  }

  /**
   * The `message` frame, as the bytes of a whole WebSocket text frame.
   * `subscription` is the pattern the receiver matched through, or undefined
   * for an exact subscription.
   */
  frame (subscription?: string): Buffer {
    if (subscription === undefined) {
      this.#frame ??= encodeTextFrame(this.#json(undefined))
      return this.#frame
    }
    return this.#patternCached(subscription, false)
  }

  /**
   * The message as one Server-Sent Event, built once. Only an exact stream's
   * events carry `id: epoch:seq` (what `Last-Event-ID` resumes from); a
   * pattern stream's events (`sseEvent(pattern)`) have none.
   */
  sseEvent (subscription?: string): Buffer {
    if (subscription !== undefined) return this.#patternCached(subscription, true)
    this.#event ??= encodeSseEvent(this.#json(undefined), `${this.epoch}:${this.seq}`)
    return this.#event
  }

  /**
   * The frame (`sse`: the event) of a conflated delivery, which says how
   * many messages of the topic the receiver did not get before this one.
   * Not cached: it is one receiver's.
   */
  skipping (subscription: string | undefined, skipped: number, sse: boolean): Buffer {
    const json = messageJson(this.topic, subscription, this.json, this.seq, this.ts, skipped)
    if (!sse) return encodeTextFrame(json)
    return encodeSseEvent(json, subscription === undefined ? `${this.epoch}:${this.seq}` : undefined)
  }

  #patternCached (pattern: string, sse: boolean): Buffer {
    this.#byPattern ??= new Map()
    const key = sse ? `\n${pattern}` : pattern
    let encoded = this.#byPattern.get(key)
    if (encoded === undefined) {
      encoded = sse ? encodeSseEvent(this.#json(pattern)) : encodeTextFrame(this.#json(pattern))
      this.#byPattern.set(key, encoded)
    }
    return encoded
  }

  #json (subscription: string | undefined): string {
    return messageJson(this.topic, subscription, this.json, this.seq, this.ts)
  }
}

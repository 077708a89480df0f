import { encodeTextFrame } from '../protocol/frame.js'

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
  #patternFrames: Map<string, Buffer> | undefined

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
      this.#frame ??= this.#encode(undefined)
      return this.#frame
    }
    this.#patternFrames ??= new Map()
    let frame = this.#patternFrames.get(subscription)
    if (frame === undefined) {
      frame = this.#encode(subscription)
      this.#patternFrames.set(subscription, frame)
    }
    return frame
  }

  #encode (subscription: string | undefined): Buffer {
    // Topics and patterns are restricted to characters JSON never escapes.
    const via = subscription === undefined ? '' : `,"subscription":"${subscription}"`
    return encodeTextFrame(`{"type":"message","topic":"${this.topic}"${via},"data":${this.json},"seq":${this.seq},"ts":${this.ts}}`)
  }
}

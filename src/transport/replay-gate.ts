import type { Message } from '../pubsub/message.js'
import { isBehind } from '../pubsub/position.js'
import type { Position } from '../pubsub/session.js'

/** A live delivery the gate held, to be delivered in order once released. */
export interface HeldDelivery { message: Message, subscription: string | undefined, frame: Buffer }

/**
 * One client's recovery rule, "hold, then floor". While a subscribe's ack
 * (and replay) is not out, live messages of that subscription are held, so
 * that the ack comes first whatever the engine; requests run one at a time
 * (RequestQueue), so at most one key is held. Once released, where the ack
 * or replay ended is the topic's floor: a network engine's live copy of a
 * message at or below it may come later, and is dropped. The first message
 * past it (a higher seq, or another epoch: the sequence restarted) removes
 * the floor. Frames are the caller's (WebSocket frames, SSE events).
 *
 * @example
 * if (gate.open || gate.offer(message, subscription, frame)) writer.deliver(message, subscription, frame)
 */
export class ReplayGate {
  /**
   * Nothing held and no floor: every delivery passes. A plain field rather
   * than a getter, read first on every delivery, so that the common case
   * costs one compare. Only the gate writes it.
   */
  open = true
  #key: string | undefined
  #held: HeldDelivery[] = []
  #heldBytes = 0
  readonly #floors = new Map<string, Position>()

  /** Bytes of the frames held: the caller bounds them like a send buffer. */
  get heldBytes (): number {
    return this.#heldBytes
  }

  /** Holds the live messages of `key` (a topic or pattern) until `release`; its old floor goes. */
  hold (key: string): void {
    this.#floors.delete(key)
    this.#key = key
    this.open = false
  }

  /** Whether a subscribe of `key` is under way: its ack will give the client a fresh position. */
  holding (key: string): boolean {
    return this.#key === key
  }

  /**
   * A delivery while the gate is not `open`: true when it goes out now;
   * false when it is held, or dropped as behind its topic's floor.
   */
  offer (message: Message, subscription: string | undefined, frame: Buffer): boolean {
    if (this.#floors.size !== 0 && subscription === undefined) {
      const floor = this.#floors.get(message.topic)
      if (floor !== undefined) {
        if (isBehind(message, floor)) return false
        this.#floors.delete(message.topic)
        this.#update()
      }
    }
    if (this.#key === undefined || this.#key !== (subscription ?? message.topic)) return true
    this.#held.push({ message, subscription, frame })
    this.#heldBytes += frame.length
    return false
  }

  /**
   * Ends the hold. `floor`: where the ack or replay ended (undefined for a
   * pattern, or a subscribe that failed), from now on the topic's floor.
   * Returns the held deliveries to make, less those at or below it.
   */
  release (floor: Position | undefined): HeldDelivery[] {
    const held = this.#held
    if (floor !== undefined) this.#floors.set(this.#key as string, floor)
    this.#key = undefined
    this.#held = []
    this.#heldBytes = 0
    this.#update()
    return floor === undefined ? held : held.filter(({ message }) => !isBehind(message, floor))
  }

  /** The topic's floor goes: unsubscribed, or reset to a position the client is told. */
  forget (key: string): void {
    this.#floors.delete(key)
    this.#update()
  }

  /** Drops what is held (the client is going); returns how many messages. */
  drop (): number {
    const dropped = this.#held.length
    this.#held = []
    this.#heldBytes = 0
    return dropped
  }

  #update (): void {
    this.open = this.#key === undefined && this.#floors.size === 0
  }
}

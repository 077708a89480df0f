import type { Redis } from 'ioredis'
import { nanoid } from 'nanoid'

/**
 * ms a probe may take to come back before its subscription is judged dead,
 * however short the heartbeat: on a busy machine Redis or this process can
 * stall for a few hundred ms, and recycling a live connection fails the
 * requests that were using it.
 */
const PROBE_GRACE_MS = 1000

/**
 * Whether this node's subscriber connection still receives: every heartbeat
 * the node publishes a probe on a channel of its own, and checks that the
 * last one came back through its own subscription. If not, the subscription
 * is dead (seen after failovers elsewhere) and the connection is recycled,
 * which makes the engine subscribe to everything again.
 */
export class SubscriptionProbe {
  readonly channel: string
  readonly #command: Redis
  readonly #subscriber: Redis
  readonly #onLost: () => void
  #probe = ''
  #seen = true
  #sentAt = 0
  #misses = 0
  /** The subscriber connection has subscribed to the probe channel at least once. */
  #armed = false

  constructor (command: Redis, subscriber: Redis, channel: string, onLost: () => void) {
    this.#command = command
    this.#subscriber = subscriber
    this.channel = channel
    this.#onLost = onLost
  }

  /** Subscribed to the probe channel: the node's first verdicts may come. */
  get armed (): boolean {
    return this.#armed
  }

  /** The subscriber connection is (re)subscribed, the probe channel with it. */
  arm (): void {
    this.#armed = true
  }

  /** After any reconnect, a probe sent before it is lost: start over. */
  restart (): void {
    this.#seen = true
  }

  /** A message on the probe channel. */
  received (payload: string): void {
    if (payload === this.#probe) this.#seen = true
  }

  /**
   * The heartbeat's verdict on the last probe: two heartbeats without it
   * back, and PROBE_GRACE_MS, so that a slow moment is not taken for a dead
   * subscription; no verdict while the connection is down.
   */
  check (): void {
    const subscribed = this.#armed && this.#subscriber.status === 'ready'
    this.#misses = this.#seen || !subscribed ? 0 : this.#misses + 1
    if (this.#misses >= 2 && Date.now() - this.#sentAt >= PROBE_GRACE_MS) {
      this.#onLost()
      this.#misses = 0
      this.#seen = true
      this.#subscriber.disconnect(true)
    }
  }

  /** A new probe, only once the last one came back, through a live subscription. */
  async send (): Promise<void> {
    if (!this.#seen || this.#subscriber.status !== 'ready') return
    this.#probe = nanoid(8)
    this.#seen = false
    this.#sentAt = Date.now()
    await this.#command.publish(this.channel, this.#probe)
  }
}

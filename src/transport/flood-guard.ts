import { TokenBucket } from './token-bucket.js'

/** A gap this long without a refusal ends a run of them, in ms. */
export const QUIET_MS = 1000

export interface FloodGuardOptions {
  /** Frames a second, and at most `burst` saved up (TokenBucket). */
  rate: number
  burst: number
  /** ms of refusals on end, with no QUIET_MS free of them, that make a flood. */
  sustain: number
}

const clock = (): number => performance.now()

/**
 * Rate limiting of one client's inbound frames. A frame over the budget is
 * refused (the caller answers RATE_LIMITED); a client refused for `sustain`
 * ms on end, with no QUIET_MS free of refusals, is `flooding` and gets
 * closed. A burst (say, resubscribing after a reconnect) only gets refusals.
 */
export class FloodGuard {
  readonly #bucket: TokenBucket
  readonly #sustain: number
  readonly #now: () => number
  /** When the current run of refusals began. */
  #runStart = 0
  #lastRefusal = -Infinity
  #flooding = false

  /** `now`: a clock in ms (performance.now by default; tests pass a fake one). */
  constructor ({ rate, burst, sustain }: FloodGuardOptions, now: () => number = clock) {
    this.#now = now
    this.#bucket = new TokenBucket(rate, burst, now())
    this.#sustain = sustain
  }

  /** Once true, for good: the client is to be closed, and its frames ignored. */
  get flooding (): boolean {
    return this.#flooding
  }

  /** Takes one frame's token: false when the frame is refused (and maybe `flooding` now). */
  take (): boolean {
    const now = this.#now()
    if (this.#bucket.take(now)) return true
    if (now - this.#lastRefusal > QUIET_MS) this.#runStart = now
    this.#lastRefusal = now
    if (now - this.#runStart >= this.#sustain) this.#flooding = true
    return false
  }
}

/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. Takes one
 * token per inbound frame when rate limiting is on.
 */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  #tokens: number
  #last: number

  constructor (rate: number, burst: number, now = performance.now()) {
    this.#rate = rate
    this.#burst = burst
    this.#tokens = burst
    this.#last = now
  }

  /** Takes a token; false when none is left. */
  take (now = performance.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate / 1000)
    this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

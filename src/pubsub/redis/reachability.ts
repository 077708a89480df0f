/** Where the Redis engine's state changes are logged; pino and Fastify's logger fit. */
export interface ReachabilityLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

/** What a 503 says while Redis is away: ioredis's own messages stay in the log. */
export const NOT_CONNECTED = 'the Redis engine is not connected'

/**
 * Logs Redis going away once (with the reason), then a summary every
 * `summaryMs` while it stays away, and once when it is back: ioredis
 * reports every reconnect attempt, and a line per attempt floods the log
 * (31 lines in 4 s, issue 19).
 */
export class Reachability {
  readonly #log: ReachabilityLogger | undefined
  readonly #summaryMs: number
  #timer: NodeJS.Timeout | undefined
  #since = 0
  #attempts = 0

  constructor (log: ReachabilityLogger | undefined, summaryMs: number) {
    this.#log = log
    this.#summaryMs = summaryMs
  }

  get down (): boolean {
    return this.#timer !== undefined
  }

  /** A failure (a connection error, a failed command): the first since Redis was up is logged. */
  failed (reason: string): void {
    this.#attempts++
    if (this.down) return
    this.#since = Date.now()
    this.#attempts = 0
    this.#log?.warn({ reason }, 'Redis unreachable: the engine refuses work until it is back')
    this.#timer = setInterval(() => {
      this.#log?.warn({ attempts: this.#attempts, downMs: Date.now() - this.#since }, `Redis still unreachable, ${this.#attempts} failed attempts in the last ${this.#summaryMs / 1000} s`)
      this.#attempts = 0
    }, this.#summaryMs)
    this.#timer.unref()
  }

  /** Both connections are up: logged once if Redis had been away. */
  recovered (): void {
    if (!this.down) return
    this.stop()
    this.#log?.info({ downMs: Date.now() - this.#since }, 'Redis reachable again')
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/** What Clients asks of a connection, WebSocket or SSE. */
export interface Client {
  /** Pings the client (and gives up on one that did not answer the last ping). */
  heartbeat (): void
  /** Closes it after what is queued: `code` for a WebSocket; an SSE stream just ends. */
  close (code: number, reason: string): void
}

/**
 * Every open client of one broker, WebSocket connections and SSE streams
 * alike (centrifuge's Hub, for connections): the count that admission
 * checks against maxConnections, one heartbeat loop, the shutdown, and the
 * transport's counters, plain numbers that /metrics reads at scrape time.
 */
export class Clients {
  readonly #clients = new Set<Client>()
  #heartbeat: NodeJS.Timeout | undefined
  #pingInterval = Infinity
  #closing: Promise<void> | undefined
  #drained: (() => void) | undefined
  /** Live messages a client did not get: it was over maxBufferedBytes, or closing. */
  dropped = 0
  /** Clients cut for letting more than maxBufferedBytes pile up. */
  slowConsumers = 0
  /** Messages of conflating namespaces a client that was behind did not get: a later one of their topic replaced them. */
  conflated = 0
  /** Frames refused by the rate limit. */
  rateLimited = 0
  /** Error replies by wire code (WebSocket) or full code (HTTP). */
  readonly errors = new Map<string, number>()
  /** Requests refused by load shedding, by reason (eventLoopDelay, heapUsedBytes, …). */
  readonly shed = new Map<string, number>()

  /** Open clients. */
  get size (): number {
    return this.#clients.size
  }

  add (client: Client): void {
    this.#clients.add(client)
  }

  /** The client closed, whoever closed it. */
  delete (client: Client): void {
    this.#clients.delete(client)
    if (this.#clients.size === 0) this.#drained?.()
  }

  error (code: string): void {
    increment(this.errors, code)
  }

  shedLoad (reason: string): void {
    increment(this.shed, reason)
  }

  /**
   * Runs the heartbeat every `pingInterval` ms: each route asks at
   * registration, and the shortest interval asked wins. Unref'd: it never
   * holds the process open.
   */
  heartbeatEvery (pingInterval: number): void {
    if (pingInterval >= this.#pingInterval || this.#closing !== undefined) return
    clearInterval(this.#heartbeat)
    this.#pingInterval = pingInterval
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) client.heartbeat()
    }, pingInterval)
    this.#heartbeat.unref()
  }

  /**
   * Shutdown: stops the heartbeat and closes every client (1001 for a
   * WebSocket) after what is queued for it; resolves once every one is
   * gone. Safe to call again: later calls wait for the same end.
   */
  async closeAll (code: number, reason: string): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      clearInterval(this.#heartbeat)
      if (this.#clients.size === 0) {
        resolve()
        return
      }
      this.#drained = resolve
      for (const client of this.#clients) client.close(code, reason)
    })
    await this.#closing
  }
}

function increment (counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

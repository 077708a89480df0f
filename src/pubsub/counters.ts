/** Where a publish came from. */
export type Transport = 'ws' | 'http' | 'app'

/**
 * What the broker and its routes count, as plain numbers: incrementing costs
 * nothing on the fan-out path, and a metrics scrape reads them.
 */
export class Counters {
  readonly published: Record<Transport, number> = { ws: 0, http: 0, app: 0 }
  /** Messages handed to sessions on this node (by the broker's fan-out). */
  deliveries = 0
  /** Frames a connection did not get: it was over maxBufferedBytes, or closing. */
  dropped = 0
  connections = 0
  slowConsumers = 0
  rateLimited = 0
  /** Error replies by wire code (WebSocket) or full code (HTTP). */
  readonly errors = new Map<string, number>()
  /** Requests refused by load shedding, by reason (eventLoopDelay, heapUsedBytes, …). */
  readonly shed = new Map<string, number>()

  error (code: string): void {
    increment(this.errors, code)
  }

  shedLoad (reason: string): void {
    increment(this.shed, reason)
  }
}

function increment (counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

/** Where a publish came from. */
export type Transport = 'ws' | 'http' | 'app'

/**
 * What the broker and its routes count, as plain numbers: incrementing costs
 * nothing on the fan-out path, and a metrics scrape reads them.
 */
export class Counters {
  readonly published: Record<Transport, number> = { ws: 0, http: 0, app: 0 }
  deliveries = 0
  connections = 0
  slowConsumers = 0
  rateLimited = 0
  /** Error replies by wire code (WebSocket) or full code (HTTP). */
  readonly errors = new Map<string, number>()

  error (code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1)
  }
}

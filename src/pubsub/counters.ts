import type { Message } from './message.js'

/** Where a publish came from. */
export type Transport = 'ws' | 'http' | 'app'

/** What the metrics route adds on the hot path when it is registered: see src/routes/metrics.ts. */
export interface MetricsHooks {
  /** A publish, after the engine took it. */
  published? (topic: string): void
  /** A fan-out on this node that reached `delivered` sessions, `latencyMs` after its publish (FanoutListener). */
  fanout? (message: Message, delivered: number, latencyMs: number): void
}

/**
 * What the broker counts, as plain numbers: incrementing costs nothing on
 * the fan-out path, and a metrics scrape reads them. The transport's own
 * counters (connections, dropped, …) are its Clients' (transport/clients.ts).
 */
export class Counters {
  readonly published: Record<Transport, number> = { ws: 0, http: 0, app: 0 }
  /** Messages handed to sessions on this node. */
  deliveries = 0
  hooks: MetricsHooks = {}

  /** The engine's FanoutListener. */
  fanout (message: Message, delivered: number, latencyMs: number): void {
    this.deliveries += delivered
    this.hooks.fanout?.(message, delivered, latencyMs)
  }
}

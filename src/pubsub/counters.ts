/** Where a publish came from. */
export type Transport = 'ws' | 'http' | 'app'

/**
 * What the broker counts, as plain numbers: incrementing costs nothing on
 * the fan-out path, and a metrics scrape reads them. The transport's own
 * counters (connections, dropped, …) are its Clients' (transport/clients.ts).
 */
export class Counters {
  readonly published: Record<Transport, number> = { ws: 0, http: 0, app: 0 }
  /** Messages handed to sessions on this node (by the broker's fan-out). */
  deliveries = 0
}

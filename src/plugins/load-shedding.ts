import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { PUBSUB_ERR_UNAVAILABLE } from '../protocol/errors.js'
import type { Clients } from '../transport/clients.js'

type PressureHandler = (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => unknown

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/under-pressure's per-route handler: see EXEMPT. */
    pressureHandler?: PressureHandler
  }
}

/** Thresholds past which new requests are refused with 503; 0 turns one off. */
export interface PressureOptions {
  /** Your own check, run every `sampleInterval`: resolving false sheds load too (say, a dependency is down). */
  healthCheck?: () => Promise<boolean>
  /** Mean event-loop delay over a sample, in ms (default 1,000). */
  maxEventLoopDelay?: number
  /** V8 heap in use, in bytes (default 0: off). */
  maxHeapUsedBytes?: number
  /** Resident set size, in bytes (default 0: off). */
  maxRssBytes?: number
  /** Event-loop utilization from 0 to 1 (default 0: off). */
  maxEventLoopUtilization?: number
  /** The `Retry-After` of a refusal, in seconds (default 10). */
  retryAfter?: number
  /** ms between samples (default 1,000). */
  sampleInterval?: number
}

export type ResolvedPressureOptions = Readonly<Required<Omit<PressureOptions, 'healthCheck'>> & Pick<PressureOptions, 'healthCheck'>>

/**
 * Route config of the routes that answer under pressure too: liveness (a
 * busy process is alive; restarting it would drop every client) and metrics
 * (most wanted when the server struggles).
 */
export const EXEMPT = { pressureHandler: () => undefined }

/**
 * Load shedding with @fastify/under-pressure, for the routes of the scope it
 * is registered in: past a threshold, new requests (REST, WebSocket upgrades,
 * SSE, and `/ready`, so that a balancer sends traffic elsewhere) get 503
 * PUBSUB_ERR_UNAVAILABLE with `Retry-After`. Open connections are untouched.
 * Refusals are counted by reason (pubsub_load_shed_total), not logged:
 * logging each would add to the load.
 */
export async function loadShedding (scope: FastifyInstance, clients: Clients, options: ResolvedPressureOptions): Promise<void> {
  const { retryAfter, healthCheck, ...thresholds } = options
  const refuse: PressureHandler = (_request, reply, type) => {
    clients.shedLoad(type)
    // The error table's error in Fastify's error shape, but answered rather
    // than thrown: Fastify's error handler would log every refusal at error
    // level (a 5xx) and run the routes' onError hooks, adding to the load.
    const err = new PUBSUB_ERR_UNAVAILABLE(`server under pressure (${type})`)
    reply.code(err.statusCode).header('retry-after', retryAfter)
    return { statusCode: err.statusCode, code: err.code, error: STATUS_CODES[err.statusCode], message: err.message }
  }
  await scope.register(underPressure, {
    ...thresholds,
    // Per sample, as the thresholds above; the default, 'cumulative', is the
    // average since startup: a busy hour would keep refusing long after.
    eventLoopUtilizationMode: 'interval',
    ...(healthCheck === undefined ? {} : { healthCheck, healthCheckInterval: options.sampleInterval }),
    // "Any other return value than a promise or nullish will be sent to the
    // client with reply.send" (its README); its typings say void only.
    pressureHandler: refuse as unknown as (request: FastifyRequest, reply: FastifyReply, type: string) => void
  })
}

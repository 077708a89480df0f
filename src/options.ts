import { Authenticator, type AuthOptions } from './auth/authenticator.js'
import type { PressureOptions, ResolvedPressureOptions } from './plugins/load-shedding.js'
import type { RedisEngineConfig } from './plugins/pubsub.js'
import type { Engine } from './pubsub/engine.js'
import { normalizeOrigins } from './auth/origins.js'
import { PUBSUB_ERR_OPTION } from './protocol/errors.js'
import { MAX_INT32, positiveInteger, resolveBrokerOptions, type BrokerOptions } from './pubsub/options.js'

/** Options of the fastify-pubsub plugin. Every limit has a default; see docs/limits.md. */
export interface PubsubOptions extends BrokerOptions {
  /** Where the routes are mounted, e.g. `/realtime`. Default: none. */
  prefix?: string
  /** The engine to run on: in memory by default, or `{ type: 'redis', url }` (docs/scaling.md), or an Engine instance. */
  engine?: Engine | RedisEngineConfig
  /** Largest WebSocket frame, in bytes (default 64 KiB); a larger one closes the connection with 1009. */
  maxPayload?: number
  /** Largest `POST /publish/:topic` body, in bytes (default 64 KiB); larger answers 413. */
  bodyLimit?: number
  /** Bytes one client left unread for a whole event-loop turn past which it is closed with 1013 (default 1 MiB); 8 times it queued and unsent at once closes it too (docs/limits.md). */
  maxBufferedBytes?: number
  /** Serve the web console at `GET /` (default true). */
  console?: boolean
  /** Serve the OpenAPI document at `GET /docs/json` and Swagger UI at `GET /docs` (default true). */
  docs?: boolean
  /** Serve Prometheus metrics at `GET /metrics` (default true); false also takes the histogram and per-topic counters off the fan-out path. */
  metrics?: boolean
  /**
   * Per-topic metrics (`pubsub_topic_published_total`, `pubsub_topic_deliveries_total`)
   * for the first this many topics seen; later topics count under `topic="(other)"`.
   * Default 0: none, since clients choose how many topics there are.
   */
  metricsTopics?: number
  /**
   * In a worker of the standalone server's `--workers`: `GET /metrics`
   * answers for every worker, gathered by the primary (default false; the
   * standalone server sets it).
   */
  clusterMetrics?: boolean
  /** In-memory engine: ms a topic with no exact subscriber keeps its sequence after its last publish (default 5 min). */
  topicTtl?: number
  /** In-memory engine: topics remembered at most (default 100,000); past it a new topic's sequence is not kept. */
  maxTopics?: number
  /** In-memory engine: messages each topic retains for recovery and `GET /topics/:topic/history` (default 100; 0 turns history off). */
  historySize?: number
  /** In-memory engine: ms a retained message is kept (default 5 min). */
  historyTtl?: number
  /** ms a publish's idempotency key is remembered, on every engine (default 5 min): a repeat within it is answered with the first reply and `duplicate: true`. */
  idempotencyWindow?: number
  /** In-memory engine: idempotency keys remembered at most (default 100,000); past it the oldest is forgotten early. */
  maxIdempotencyKeys?: number
  /** WebSocket connections this server accepts at once (default 10,000); past it an upgrade answers 503. */
  maxConnections?: number
  /** ms between the server's pings (default 25 s); a connection that missed the previous pong is terminated. */
  pingInterval?: number
  /** ms a connection closed by the server (1013, or 1001 at shutdown) gets to finish the close handshake before it is terminated (default 5 s). */
  closeGrace?: number
  /**
   * Origins allowed to open a WebSocket besides the server's own host
   * (default none); `['*']` allows every origin. Requests without an Origin
   * header (non-browser clients) are always allowed.
   */
  allowedOrigins?: string[]
  /**
   * Inbound frames per connection: a token bucket refilled at `rate` per
   * second, holding at most `burst`. Off by default. A frame over it is
   * answered RATE_LIMITED; a client refused for `sustain` ms on end (default
   * 5,000; a second without refusals starts over) is closed with 1008.
   */
  rateLimit?: false | { rate: number, burst: number, sustain?: number }
  /**
   * JWT authentication and per-topic grants (docs/auth.md). Off by default:
   * anyone may subscribe and publish. One of `secret`, `publicKey`, `jwks`
   * turns it on for WebSocket, SSE and REST alike.
   */
  auth?: AuthOptions | false
  /** `POST /publish/:topic` requests per client address: `max` per `timeWindow` ms (@fastify/rate-limit). Off by default. */
  restRateLimit?: false | { max: number, timeWindow: number }
  /**
   * Load shedding (@fastify/under-pressure): past a threshold, new requests
   * to these routes answer 503, except `/health` and `/metrics`. Off by
   * default here (a host app often has its own, and under-pressure leaves
   * an event-loop monitor running after its app closes); `{}` turns it on
   * with `maxEventLoopDelay: 1000`, as the standalone server does.
   */
  underPressure?: false | PressureOptions
}

export interface ResolvedOptions {
  prefix: string
  engine: Engine | RedisEngineConfig | undefined
  maxSubscriptions: number
  maxPatternTokens: number
  maxSubscriptionBytes: number
  presenceLimit: number
  maxPayload: number
  bodyLimit: number
  maxBufferedBytes: number
  console: boolean
  docs: boolean
  metrics: boolean
  metricsTopics: number
  clusterMetrics: boolean
  topicTtl: number
  maxTopics: number
  historySize: number
  historyTtl: number
  idempotencyWindow: number
  maxIdempotencyKeys: number
  maxConnections: number
  pingInterval: number
  closeGrace: number
  allowedOrigins: readonly string[]
  rateLimit: false | Readonly<{ rate: number, burst: number, sustain: number }>
  restRateLimit: false | Readonly<{ max: number, timeWindow: number }>
  underPressure: false | ResolvedPressureOptions
  /** Verifies tokens when auth is on. */
  authenticator: Authenticator | undefined
}

/**
 * Copies, checks and defaults the plugin's options once, at registration.
 * Throws PUBSUB_ERR_OPTION naming the option, its value and what is allowed.
 *
 * @example
 * resolveOptions({ maxPayload: 1 << 20 })  // { maxPayload: 1048576, bodyLimit: 65536, ... }
 */
export function resolveOptions (options: PubsubOptions = {}): Readonly<ResolvedOptions> {
  const resolved: ResolvedOptions = {
    prefix: options.prefix ?? '',
    engine: options.engine,
    ...pick(resolveBrokerOptions(options), 'maxSubscriptions', 'maxPatternTokens', 'maxSubscriptionBytes', 'presenceLimit'),
    maxPayload: options.maxPayload ?? 64 * 1024,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    console: options.console ?? true,
    docs: options.docs ?? true,
    metrics: options.metrics ?? true,
    metricsTopics: options.metricsTopics ?? 0,
    clusterMetrics: options.clusterMetrics ?? false,
    topicTtl: options.topicTtl ?? 5 * 60_000,
    maxTopics: options.maxTopics ?? 100_000,
    historySize: options.historySize ?? 100,
    historyTtl: options.historyTtl ?? 5 * 60_000,
    idempotencyWindow: options.idempotencyWindow ?? 5 * 60_000,
    maxIdempotencyKeys: options.maxIdempotencyKeys ?? 100_000,
    maxConnections: options.maxConnections ?? 10_000,
    pingInterval: options.pingInterval ?? 25_000,
    closeGrace: options.closeGrace ?? 5000,
    allowedOrigins: Object.freeze(normalizeOrigins(options.allowedOrigins)),
    rateLimit: options.rateLimit === undefined || options.rateLimit === false ? false : Object.freeze({ sustain: 5000, ...options.rateLimit }),
    restRateLimit: options.restRateLimit === undefined || options.restRateLimit === false ? false : Object.freeze({ ...options.restRateLimit }),
    underPressure: options.underPressure === undefined || options.underPressure === false ? false : Object.freeze({ ...PRESSURE_DEFAULTS, ...options.underPressure }),
    authenticator: options.auth === undefined || options.auth === false ? undefined : new Authenticator(options.auth)
  }
  if (typeof resolved.prefix !== 'string' || (resolved.prefix !== '' && !resolved.prefix.startsWith('/'))) {
    throw new PUBSUB_ERR_OPTION('prefix', resolved.prefix, "a path starting with '/'")
  }
  positiveInteger('maxPayload', resolved.maxPayload, 1, MAX_INT32)
  positiveInteger('bodyLimit', resolved.bodyLimit)
  positiveInteger('maxBufferedBytes', resolved.maxBufferedBytes)
  positiveInteger('metricsTopics', resolved.metricsTopics, 0, 10_000)
  positiveInteger('topicTtl', resolved.topicTtl, 1, MAX_INT32)
  positiveInteger('maxTopics', resolved.maxTopics)
  positiveInteger('historySize', resolved.historySize, 0)
  positiveInteger('historyTtl', resolved.historyTtl, 1, MAX_INT32)
  positiveInteger('idempotencyWindow', resolved.idempotencyWindow, 1, MAX_INT32)
  positiveInteger('maxIdempotencyKeys', resolved.maxIdempotencyKeys)
  positiveInteger('maxConnections', resolved.maxConnections)
  positiveInteger('pingInterval', resolved.pingInterval, 10, MAX_INT32)
  positiveInteger('closeGrace', resolved.closeGrace, 1, MAX_INT32)
  if (resolved.rateLimit !== false) {
    positiveInteger('rateLimit.rate', resolved.rateLimit.rate)
    positiveInteger('rateLimit.burst', resolved.rateLimit.burst)
    positiveInteger('rateLimit.sustain', resolved.rateLimit.sustain, 1, MAX_INT32)
  }
  if (resolved.restRateLimit !== false) {
    positiveInteger('restRateLimit.max', resolved.restRateLimit.max)
    positiveInteger('restRateLimit.timeWindow', resolved.restRateLimit.timeWindow, 1, MAX_INT32)
  }
  if (resolved.underPressure !== false) {
    const { maxEventLoopUtilization, healthCheck, sampleInterval, retryAfter, ...bytesAndDelay } = resolved.underPressure
    for (const [name, value] of Object.entries(bytesAndDelay)) positiveInteger(`underPressure.${name}`, value, 0)
    positiveInteger('underPressure.sampleInterval', sampleInterval, 1, MAX_INT32)
    positiveInteger('underPressure.retryAfter', retryAfter, 1, MAX_INT32)
    if (healthCheck !== undefined && typeof healthCheck !== 'function') throw new PUBSUB_ERR_OPTION('underPressure.healthCheck', healthCheck, 'a function resolving to true or false')
    if (typeof maxEventLoopUtilization !== 'number' || !(maxEventLoopUtilization >= 0 && maxEventLoopUtilization <= 1)) {
      throw new PUBSUB_ERR_OPTION('underPressure.maxEventLoopUtilization', maxEventLoopUtilization, 'a number from 0 to 1')
    }
  }
  const engine = resolved.engine as unknown
  if (engine !== undefined && (typeof engine !== 'object' || engine === null ||
    ('type' in engine ? engine.type !== 'redis' : typeof (engine as Engine).publish !== 'function'))) {
    throw new PUBSUB_ERR_OPTION('engine', engine, "an Engine, or { type: 'redis', url }")
  }
  for (const name of ['console', 'docs', 'metrics', 'clusterMetrics'] as const) {
    if (typeof resolved[name] !== 'boolean') throw new PUBSUB_ERR_OPTION(name, resolved[name], 'true or false')
  }
  return Object.freeze(resolved)
}

const PRESSURE_DEFAULTS: ResolvedPressureOptions = { maxEventLoopDelay: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0, maxEventLoopUtilization: 0, retryAfter: 10, sampleInterval: 1000 }

function pick<T extends object, K extends keyof T> (from: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, from[key]])) as Pick<T, K>
}

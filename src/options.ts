// The public option types, plain TypeScript: they are what a host app's
// tsc reads, and TypeBox's types would cost it seconds and hundreds of MB.
// options-schema.ts holds the schema they mirror and checks that they do.
import type { Authenticator, AuthOptions } from './auth/authenticator.js'
import type { PressureOptions, ResolvedPressureOptions } from './plugins/load-shedding.js'
import type { Engine } from './pubsub/engine.js'
import type { BrokerOptions } from './pubsub/options.js'
import type { RedisEngineOptions } from './pubsub/redis/engine.js'
import type { RedisClusterEngineOptions } from './pubsub/redis/cluster-engine.js'

/** The Redis engine by configuration rather than by instance: the plugin's `engine: { type: 'redis', url }`, or `{ type: 'redis', sentinels, name }`. */
export interface RedisEngineConfig extends Omit<RedisEngineOptions, 'historySize' | 'historyTtl' | 'topicTtl' | 'idempotencyWindow' | 'logger'> {
  type: 'redis'
}

/** The Redis Cluster engine by configuration: the plugin's `engine: { type: 'redis-cluster', nodes: ['host:port', …] }`. */
export interface RedisClusterEngineConfig extends Omit<RedisClusterEngineOptions, 'historySize' | 'historyTtl' | 'topicTtl' | 'idempotencyWindow' | 'logger'> {
  type: 'redis-cluster'
}

/** Options of the fastify-pubsub plugin. Every limit has a default; see docs/limits.md. */
export interface PubsubOptions extends BrokerOptions {
  /** Where the routes are mounted, e.g. `/realtime`. Default: none. */
  prefix?: string
  /** The engine to run on: in memory by default, `{ type: 'redis', url }`, `{ type: 'redis', sentinels, name }` or `{ type: 'redis-cluster', nodes }` (docs/scaling.md), or an Engine instance. */
  engine?: Engine | RedisEngineConfig | RedisClusterEngineConfig
  /** Largest WebSocket frame, in bytes, the server runs (default 64 KiB); a larger one is answered BAD_REQUEST, one over twice this closes the connection with 1009. */
  maxPayload?: number
  /** Largest `POST /publish/:topic` body, in bytes (default 64 KiB); larger answers 413. */
  bodyLimit?: number
  /** Bytes one client left unread for a whole event-loop turn past which it is closed with 1013 (default 1 MiB); 8 times it queued and unsent at once closes it too (docs/limits.md). */
  maxBufferedBytes?: number
  /** Serve the web console at `GET /` (default true). */
  console?: boolean
  /** Serve the OpenAPI document at `GET /docs/json`, Swagger UI at `GET /docs` and the AsyncAPI document at `GET /asyncapi.json` (default true). */
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
  /**
   * WebSocket connections and SSE streams this server accepts at once; past
   * it an upgrade answers 503. Default: what the process's open-files limit
   * holds (`ulimit -n` less 500, read from /proc/self/limits on Linux;
   * 10,000 elsewhere). Set above that, it is logged as a warning at startup.
   */
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

/** What resolveOptions fills in or replaces: the rest it keeps as PubsubOptions documents it. */
type Replaced = 'prefix' | 'engine' | 'auth' | 'allowedOrigins' | 'underPressure' | 'rateLimit'

/**
 * The plugin's options once resolved: every default filled in, frozen.
 * `prefix` stays out, so that the routes can take them whole.
 */
export interface ResolvedOptions extends Readonly<Required<Omit<PubsubOptions, Replaced>>> {
  readonly engine: Engine | RedisEngineConfig | RedisClusterEngineConfig | undefined
  /** Normalized as browsers send them. */
  readonly allowedOrigins: readonly string[]
  readonly rateLimit: false | { rate: number, burst: number, sustain: number }
  readonly underPressure: false | ResolvedPressureOptions
  /** Verifies tokens when auth is on. */
  readonly authenticator: Authenticator | undefined
}

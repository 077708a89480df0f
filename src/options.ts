import Type, { type Static, type TSchema } from 'typebox'
import Value from 'typebox/value'
import { Authenticator, type AuthOptions } from './auth/authenticator.js'
import { normalizeOrigins, ORIGINS_RULE } from './auth/origins.js'
import type { PressureOptions, ResolvedPressureOptions } from './plugins/load-shedding.js'
import type { Engine } from './pubsub/engine.js'
import { PUBSUB_ERR_OPTION } from './protocol/errors.js'
import { LIMITS, MAX_INT32, rangeText } from './pubsub/defaults.js'
import type { BrokerOptions } from './pubsub/options.js'
import type { RedisEngineOptions } from './pubsub/redis/engine.js'
import { connectionsWithin, openFilesLimit } from './transport/open-files.js'

/** The Redis engine by configuration rather than by instance: the plugin's `engine: { type: 'redis', url }`. */
export interface RedisEngineConfig extends Omit<RedisEngineOptions, 'historySize' | 'historyTtl' | 'topicTtl' | 'idempotencyWindow' | 'logger'> {
  type: 'redis'
}

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

/** What an option's schema says besides JSON Schema: for error messages and docs/configuration.md. */
export interface OptionMeta {
  /** What it takes, in words, when its type does not say it. */
  allowed?: string
  /** How its default reads in the docs, when the schema has none. */
  shown?: string
  /** Durations are integers of milliseconds. */
  unit?: 'ms'
}

const ANY = Number.MAX_SAFE_INTEGER

function integer (description: string, fallback: number, minimum = 1, maximum = ANY): ReturnType<typeof Type.Integer> {
  return Type.Integer({ description, default: fallback, minimum, maximum })
}
function ms (description: string, fallback: number, minimum = 1): ReturnType<typeof Type.Integer> {
  return Type.Integer({ description, default: fallback, minimum, maximum: MAX_INT32, unit: 'ms' })
}
/** A broker or engine option: its default and range are src/pubsub/defaults.ts's. */
function limit (key: keyof typeof LIMITS, description: string): ReturnType<typeof Type.Integer> {
  return Type.Integer({ description, ...LIMITS[key] })
}
function flag (description: string, fallback: boolean): ReturnType<typeof Type.Boolean> {
  return Type.Boolean({ description, default: fallback })
}
/** An object of options, or `false` (the default) for the feature off. */
function off<T extends TSchema> (description: string, allowed: string, object: T) {
  return Type.Union([Type.Literal(false), object], { description, default: false, allowed })
}

/** The thresholds of `underPressure`; 0 turns one off. */
export const PressureSchema = Type.Object({
  maxEventLoopDelay: ms('Mean event-loop delay over a sample past which requests are refused; 0: off', 1000, 0),
  maxHeapUsedBytes: integer('V8 heap in use, in bytes, past which requests are refused; 0: off', 0, 0),
  maxRssBytes: integer('Resident set size, in bytes, past which requests are refused; 0: off', 0, 0),
  maxEventLoopUtilization: Type.Number({ description: 'Event-loop utilization (0 to 1) past which requests are refused; 0: off', default: 0, minimum: 0, maximum: 1 }),
  retryAfter: integer('The `Retry-After` of a refusal, in seconds', 10, 1, MAX_INT32),
  sampleInterval: ms('Interval between samples, and of `healthCheck`', 1000),
  healthCheck: Type.Optional(Type.Unknown({ description: 'Your own check, run every `sampleInterval`: resolving false sheds load too (say, a dependency is down)', allowed: 'a function resolving to true or false', shown: 'none' }))
})

/**
 * The plugin's options, each with its one default, range and meaning. What
 * no schema can judge (an Engine instance, auth's keys, `healthCheck`, the
 * origins) is checked by hand in resolveOptions. docs/configuration.md and
 * the standalone server's settings are built from it.
 */
export const PubsubOptionsSchema = Type.Object({
  prefix: Type.String({ description: "Where the routes are mounted, e.g. '/realtime'", default: '', pattern: '^(/[\\s\\S]*)?$', allowed: "a path starting with '/'" }),
  engine: Type.Optional(Type.Unknown({
    description: "The engine to run on: `{ type: 'redis', url, timeout?, heartbeat?, keyPrefix? }` (scaling.md), or any `Engine` instance (closed with the app)",
    allowed: "an Engine, or { type: 'redis', url }",
    shown: 'in memory'
  })),
  maxConnections: Type.Integer({
    description: 'WebSocket connections and SSE streams at once; past it an upgrade answers 503. Derived by default: the open-files limit (ulimit -n) less 500, or 10,000 where it cannot be read. Set above what the open-files limit holds, it is logged as a warning at startup',
    // Read once, when the options module loads: every app of the process shares the limit.
    default: connectionsWithin(openFilesLimit()),
    minimum: 1,
    maximum: ANY,
    shown: 'derived'
  }),
  maxSubscriptions: limit('maxSubscriptions', 'Subscriptions one connection may hold; more answer TOO_MANY_SUBSCRIPTIONS'),
  maxPatternTokens: limit('maxPatternTokens', 'Tokens a wildcard pattern may have; a longer one answers INVALID_TOPIC (bounds the pattern walk of a publish)'),
  maxSubscriptionBytes: limit('maxSubscriptionBytes', "Bytes the topics and patterns of one connection's subscriptions may add up to; past it TOO_MANY_SUBSCRIPTIONS"),
  maxPayload: integer('Largest WebSocket frame, in bytes, the server runs; a larger one is answered with a BAD_REQUEST error frame, and one over twice this closes the connection with 1009', 64 * 1024, 1, MAX_INT32),
  bodyLimit: integer('Largest `POST /publish/:topic` body, in bytes; larger answers 413', 64 * 1024),
  maxBufferedBytes: integer('Bytes one client left unread for a whole turn past which it is closed with 1013 (slow consumer); 8 times it queued at once, too', 1024 * 1024),
  maxTopics: limit('maxTopics', "Topics the in-memory engine remembers; past it a new topic's sequence is not kept"),
  topicTtl: limit('topicTtl', 'How long a topic with no exact subscriber keeps its sequence after its last publish'),
  historySize: limit('historySize', 'Messages each topic retains for recovery and its history route; 0 turns history off'),
  historyTtl: limit('historyTtl', 'How long a retained message is kept'),
  idempotencyWindow: limit('idempotencyWindow', "How long a publish's idempotency key (`key`, `Idempotency-Key`) is remembered, on every engine: a repeat within it answers the first reply, `duplicate: true`"),
  maxIdempotencyKeys: limit('maxIdempotencyKeys', 'Idempotency keys the in-memory engine remembers; past it the oldest is forgotten early'),
  presenceLimit: limit('presenceLimit', 'Client ids `GET /topics/:topic` lists at most; 0 lists none'),
  pingInterval: ms('Interval of heartbeat pings; a client that missed the previous one is terminated', 25_000, 10),
  closeGrace: ms('How long a client closed by the server (1013, or 1001 at shutdown) gets to finish the close handshake before it is terminated', 5000),
  allowedOrigins: Type.Array(Type.String(), {
    description: "Browser origins allowed to open a WebSocket besides the server's own host (`'*'`: any); requests without an Origin header (non-browser clients) are always allowed",
    default: [],
    allowed: ORIGINS_RULE
  }),
  rateLimit: off('Inbound frames per connection: a token bucket refilled at `rate` per second, holding at most `burst`; a frame over it is answered RATE_LIMITED, and a client refused for `sustain` on end (a second without refusals starts over) is closed with 1008', 'false, or { rate, burst, sustain? }', Type.Object({
    rate: Type.Integer({ description: 'Frames per second', minimum: 1, maximum: ANY }),
    burst: Type.Integer({ description: 'Frames at once', minimum: 1, maximum: ANY }),
    sustain: ms('How long a client may be refused before it is closed', 5000)
  })),
  auth: Type.Optional(Type.Unknown({
    description: 'JWT authentication and per-topic grants (auth.md), for WebSocket, SSE and REST alike: `{ secret }`, `{ publicKey }` (PEM text) or `{ jwks }` (a key set object), plus `apiKey`, `clockTolerance` (s) and `maxGrants`',
    allowed: 'false, or one of { secret }, { publicKey }, { jwks }',
    shown: 'off'
  })),
  restRateLimit: off('`POST /publish/:topic` requests per client address (@fastify/rate-limit)', 'false, or { max, timeWindow }', Type.Object({
    max: Type.Integer({ description: 'Requests per window', minimum: 1, maximum: ANY }),
    timeWindow: Type.Integer({ description: 'The window', minimum: 1, maximum: MAX_INT32, unit: 'ms' })
  })),
  underPressure: off("Load shedding (@fastify/under-pressure): past a threshold, new requests to these routes answer 503, except `/health` and `/metrics`. Off by default for apps (which often have their own, and under-pressure leaves an event-loop monitor running after its app closes); `{}` turns it on with the server's thresholds", 'false, or an object of thresholds', PressureSchema),
  console: flag('Serve the web console at `GET /`', true),
  docs: flag('Serve the OpenAPI document at `GET /docs/json` and Swagger UI at `GET /docs`', true),
  metrics: flag('Serve Prometheus metrics at `GET /metrics`; false also removes the latency histogram and per-topic counters from the fan-out path (a plain counter per message stays)', true),
  metricsTopics: integer('Topics that get their own `topic` label in per-topic metrics (later ones count as `(other)`); 0: no per-topic metrics', 0, 0, 10_000),
  clusterMetrics: flag("In a worker of the standalone server's `--workers` (which sets it): `GET /metrics` answers for every worker, gathered by the primary", false)
})

type Schematic = Static<typeof PubsubOptionsSchema>

// Every documented option has a schema, and every schema a documented option.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const documented: Same<keyof PubsubOptions, keyof Schematic> = true
void documented

/** The plugin's options once resolved: every default filled in, frozen. `prefix` stays out, so that the routes can take them whole. */
export type ResolvedOptions = Readonly<Omit<Schematic, 'prefix' | 'engine' | 'auth' | 'allowedOrigins' | 'underPressure'> & {
  engine: Engine | RedisEngineConfig | undefined
  /** Normalized as browsers send them. */
  allowedOrigins: readonly string[]
  underPressure: false | ResolvedPressureOptions
  /** Verifies tokens when auth is on. */
  authenticator: Authenticator | undefined
}>

const PROPERTIES = PubsubOptionsSchema.properties as unknown as Record<string, TSchema & OptionMeta>

/**
 * Copies, checks and defaults the plugin's options once, at registration,
 * against PubsubOptionsSchema. Throws PUBSUB_ERR_OPTION naming the option
 * (`rateLimit.burst` for a nested one), its value and what is allowed.
 *
 * @example
 * resolveOptions({ maxPayload: 1 << 20 })  // { maxPayload: 1048576, bodyLimit: 65536, ... }
 */
export function resolveOptions (options: PubsubOptions = {}): ResolvedOptions {
  for (const key of Object.keys(options)) {
    if (key in PROPERTIES || FASTIFY_REGISTER_OPTIONS.has(key)) continue
    const near = closest(key, Object.keys(PROPERTIES))
    // The value is not shown: a misspelled `secrt` would print a secret.
    throw new PUBSUB_ERR_OPTION(key, '(hidden)', `not an option${near === undefined ? '' : ` (did you mean '${near}'?)`}: see docs/configuration.md`)
  }
  const input: Record<string, unknown> = {}
  for (const key of Object.keys(PROPERTIES)) {
    const value = (options as Record<string, unknown>)[key]
    // Plain objects are copied (the defaults go into the copy); an Engine instance is kept as it is.
    if (value !== undefined) input[key] = isPlainObject(value) ? { ...value } : value
    // An object for an `off` option gets its object's defaults, so that only what is wrong in it is reported.
    const object = offObject(PROPERTIES[key] as TSchema)
    if (object !== undefined && isPlainObject(input[key])) Value.Default(object, input[key])
  }
  Value.Default(PubsubOptionsSchema, input)
  const error = Value.Errors(PubsubOptionsSchema, input).find(relevant)
  if (error !== undefined) throw optionError(error, input)
  const { prefix: _prefix, engine, auth, allowedOrigins, underPressure, rateLimit, restRateLimit, ...data } = input as Schematic
  checkEngine(engine)
  if (underPressure !== false && underPressure.healthCheck !== undefined && typeof underPressure.healthCheck !== 'function') {
    throw new PUBSUB_ERR_OPTION('underPressure.healthCheck', underPressure.healthCheck, 'a function resolving to true or false')
  }
  return Object.freeze({
    ...data,
    engine: engine as Engine | RedisEngineConfig | undefined,
    allowedOrigins: Object.freeze(normalizeOrigins(allowedOrigins)),
    rateLimit: rateLimit && Object.freeze(rateLimit),
    restRateLimit: restRateLimit && Object.freeze(restRateLimit),
    underPressure: underPressure && Object.freeze(underPressure as ResolvedPressureOptions),
    authenticator: auth === undefined || auth === false ? undefined : new Authenticator(auth as AuthOptions)
  })
}

/** What Fastify itself reads of every register() call's options (fastify 5, lib/plugin-override.js). */
const FASTIFY_REGISTER_OPTIONS = new Set(['logLevel', 'logSerializers'])

/** The name at most two edits from `name`, if one is: a typo's likely intent. */
function closest (name: string, names: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of names) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance]
  }
  return best
}

/** Levenshtein distance, one row at a time. */
function editDistance (a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length] as number
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

/** The object of an `off()` option's union, if `schema` is one. */
function offObject (schema: TSchema): TSchema | undefined {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf
  return anyOf?.find((branch) => (branch as { type?: string }).type === 'object')
}

type SchemaError = ReturnType<typeof Value.Errors>[number]

/**
 * An error that says what is wrong: not the `false` branch of an object
 * option that was given an object. (A union's summary comes after its
 * branches' errors, so one of those is found first.)
 */
function relevant (error: SchemaError): boolean {
  return !/\/anyOf\/0$/.test(error.schemaPath)
}

/** PUBSUB_ERR_OPTION for a schema error: the option's dotted path, its value, and what it takes. */
function optionError (error: SchemaError, input: Record<string, unknown>): InstanceType<typeof PUBSUB_ERR_OPTION> {
  const path = error.instancePath.split('/').slice(1)
  if (error.keyword === 'required') path.push((error.params as { requiredProperties: string[] }).requiredProperties[0] as string)
  let value: unknown = input
  let schema: TSchema = PubsubOptionsSchema
  for (const [index, segment] of path.entries()) {
    // Inside a list, the list is named: `allowedOrigins`, not `allowedOrigins.0`.
    if ((schema as { type?: string }).type === 'array') {
      path.length = index
      break
    }
    value = (value as Record<string, unknown>)[segment]
    // Errors come from the schema: every segment up to a list names a property of it.
    schema = ((offObject(schema) ?? schema) as { properties: Record<string, TSchema> }).properties[segment] as TSchema
  }
  return new PUBSUB_ERR_OPTION(path.join('.'), value, allowed(schema))
}

/** What a schema takes, in words: for PUBSUB_ERR_OPTION and the docs. */
export function allowed (schema: TSchema): string {
  const { type, minimum, maximum, anyOf, unit, allowed: words } = schema as TSchema & OptionMeta & { type?: string, minimum?: number, maximum?: number, anyOf?: Array<{ const?: unknown }> }
  if (words !== undefined) return words
  if (anyOf !== undefined) return `one of ${anyOf.map((option) => String(option.const)).join(', ')}`
  if (type === 'integer') return rangeText({ minimum: minimum as number, maximum: maximum as number }) + (unit === 'ms' ? ' (ms)' : '')
  if (type === 'number') return `a number from ${minimum as number} to ${maximum as number}`
  if (type === 'boolean') return 'true or false'
  return 'a non-empty string'
}

function checkEngine (engine: unknown): void {
  if (engine !== undefined && (typeof engine !== 'object' || engine === null ||
    ('type' in engine ? engine.type !== 'redis' : typeof (engine as Engine).publish !== 'function'))) {
    throw new PUBSUB_ERR_OPTION('engine', engine, "an Engine, or { type: 'redis', url }")
  }
}

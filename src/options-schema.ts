// The plugin's options as a TypeBox schema: resolveOptions validates and
// defaults against it, and docs/configuration.md and the standalone server's
// settings are built from it. Internal: the public types are options.ts's,
// plain TypeScript, checked at the end of this file to say the same.
import Type, { type Static, type TSchema } from 'typebox'
import { ORIGINS_RULE } from './auth/origins.js'
import type { PubsubOptions, ResolvedOptions } from './options.js'
import type { PressureOptions, ResolvedPressureOptions } from './plugins/load-shedding.js'
import { LIMITS, MAX_INT32, rangeText } from './pubsub/defaults.js'
import { connectionsWithin, openFilesLimit } from './transport/open-files.js'

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

/** One namespace's options (src/pubsub/namespaces.ts checks them by hand first, to name `namespaces['chat.>'].historySize`). */
export const NamespaceSchema = Type.Object({
  historySize: Type.Optional(Type.Integer({ description: "Messages each topic retains; default: the plugin's historySize; 0: none", minimum: LIMITS.historySize.minimum, maximum: LIMITS.historySize.maximum })),
  historyTtl: Type.Optional(Type.Integer({ description: "How long a retained message is kept; default: the plugin's historyTtl", minimum: LIMITS.historyTtl.minimum, maximum: LIMITS.historyTtl.maximum, unit: 'ms' })),
  maxMessageBytes: Type.Optional(Type.Integer({ description: 'Largest message, in bytes of its JSON text; larger answers BAD_REQUEST (400)', minimum: 1, maximum: MAX_INT32 })),
  clientPublish: Type.Optional(Type.Boolean({ description: 'Whether clients may publish: false refuses a WebSocket publish (FORBIDDEN) and, with auth on, a REST publish without the API key' })),
  presence: Type.Optional(Type.Boolean({ description: 'Whether `GET /topics/:topic` lists subscriber client ids' })),
  schema: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Schema every published message must pass, else INVALID_MESSAGE (400)' })),
  conflate: Type.Optional(Type.Boolean({ description: 'Whether a subscriber that falls behind gets the latest message of each topic, with `skipped`, instead of a 1013 close' }))
}, { additionalProperties: false })

/**
 * The plugin's options, each with its one default, range and meaning. What
 * no schema can judge (an Engine instance, auth's keys, `healthCheck`, the
 * origins) is checked by hand in resolveOptions. docs/configuration.md and
 * the standalone server's settings are built from it.
 */
export const PubsubOptionsSchema = Type.Object({
  prefix: Type.String({ description: "Where the routes are mounted, e.g. '/realtime'", default: '', pattern: '^(/[\\s\\S]*)?$', allowed: "a path starting with '/'" }),
  engine: Type.Optional(Type.Unknown({
    description: "The engine to run on: `{ type: 'redis', url, timeout?, heartbeat?, keyPrefix?, primaryChange? }`, `{ type: 'redis', sentinels: ['host:port', ...], name, password?, sentinelPassword?, ... }` to follow Sentinel's failovers, `{ type: 'redis-cluster', nodes: ['host:port', ...], password?, tls?, timeout?, heartbeat?, keyPrefix?, primaryChange? }` (scaling.md), or any `Engine` instance (closed with the app)",
    allowed: "an Engine, { type: 'redis', url }, { type: 'redis', sentinels, name } or { type: 'redis-cluster', nodes }",
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
  namespaces: Type.Record(Type.String(), NamespaceSchema, {
    description: 'Options for the topics a pattern matches (namespaces.md): `historySize`, `historyTtl`, `maxMessageBytes`, `clientPublish`, `presence`, `schema`, `conflate`; a topic takes the most specific pattern that matches it',
    default: {},
    allowed: "an object of patterns to namespace options, e.g. { 'chat.>': { historySize: 500 } }",
    shown: 'none'
  }),
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
  docs: flag('Serve the OpenAPI document at `GET /docs/json`, Swagger UI at `GET /docs` and the AsyncAPI document at `GET /asyncapi.json`', true),
  metrics: flag('Serve Prometheus metrics at `GET /metrics`; false also removes the latency histogram and per-topic counters from the fan-out path (a plain counter per message stays)', true),
  metricsTopics: integer('Topics that get their own `topic` label in per-topic metrics (later ones count as `(other)`); 0: no per-topic metrics', 0, 0, 10_000),
  clusterMetrics: flag("In a worker of the standalone server's `--workers` (which sets it): `GET /metrics` answers for every worker, gathered by the primary", false)
})

/** The options as the schema types them, defaults filled in. */
export type SchemaOptions = Static<typeof PubsubOptionsSchema>

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

// The hand-written public types and the schema say the same: every option
// of PubsubOptions has a schema and every schema an option; ResolvedOptions
// is what the schema makes of them (bar what resolveOptions replaces); and
// the same for underPressure's thresholds. A mismatch fails `tsc --noEmit`.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type ByHand = 'engine' | 'auth' | 'allowedOrigins' | 'underPressure'
type Thresholds = Static<typeof PressureSchema>
const typesMatchSchema: [
  Same<keyof PubsubOptions, keyof SchemaOptions>,
  Same<Omit<ResolvedOptions, ByHand | 'authenticator'>, Omit<SchemaOptions, ByHand | 'prefix'>>,
  Same<keyof PressureOptions, keyof Thresholds>,
  Same<Omit<ResolvedPressureOptions, 'healthCheck'>, Omit<Thresholds, 'healthCheck'>>
] = [true, true, true, true]
void typesMatchSchema

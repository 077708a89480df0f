import proxyAddr from '@fastify/proxy-addr'
import Type, { type Static, type TBoolean, type TInteger, type TOptional, type TSchema, type TString } from 'typebox'
import { normalizeOrigins, ORIGINS_RULE } from '../options.js'
import { isRedisUrl, REDIS_URL_RULE } from '../pubsub/redis/url.js'

// Every setting of the standalone server, once: its type, range, default and
// meaning. config.ts reads them from a JSON file, the environment and flags;
// docs/configuration.md and `--help` are rendered from here.

const MAX_INT32 = 2 ** 31 - 1

/** What a setting adds to its JSON schema: where it is read from, and in what unit. */
interface Source {
  /** The environment variable; by default the key in SCREAMING_SNAKE_CASE. */
  env?: string
  /** The flag without `--`; by default the key in kebab-case. */
  flag?: string
  /** How the value reads in the docs when the schema has no `default`. */
  shown?: string
  /** What it takes, in words, when the type does not say it. */
  allowed?: string
  /** Never printed: an error names the setting without its value. */
  secret?: boolean
  /** A check past what the schema says, for values only code can judge. */
  check?: (value: unknown) => boolean
  section: Section
}

export type Section = 'server' | 'redis' | 'auth' | 'limits' | 'features' | 'pressure'

function integer (description: string, fallback: number, minimum: number, maximum: number, source: Source): TInteger {
  return Type.Integer({ description, default: fallback, minimum, maximum, ...source })
}
function ms (description: string, fallback: number, source: Source, minimum = 1): TInteger {
  return integer(`${description} (ms)`, fallback, minimum, MAX_INT32, source)
}
function flag (description: string, fallback: boolean, source: Source): TBoolean {
  return Type.Boolean({ description, default: fallback, ...source })
}
function text (description: string, source: Source): TOptional<TString> {
  return Type.Optional(Type.String({ description, minLength: 1, ...source }))
}
/** `rate,burst` style pairs of integers >= 1, or `off`. */
function pair (description: string, source: Source): TString {
  return Type.String({ description, default: 'off', pattern: '^(off|[1-9][0-9]{0,8},[1-9][0-9]{0,8})$', allowed: "'off', or two integers >= 1 such as '50,100'", ...source })
}

const server = { section: 'server' } as const
const redis = { section: 'redis' } as const
const auth = { section: 'auth' } as const
const limits = { section: 'limits' } as const
const features = { section: 'features' } as const
const pressure = { section: 'pressure' } as const

export const SettingsSchema = Type.Object({
  host: Type.String({ description: "Interface to listen on; '0.0.0.0' for every IPv4 interface", default: '127.0.0.1', minLength: 1, ...server }),
  port: integer('TCP port (0 picks a free one)', 8080, 0, 65535, server),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { description: 'pino log level', default: 'info', ...server }),
  logPretty: Type.Optional(Type.Boolean({ description: 'Human-readable logs through pino-pretty (a dev dependency); by default only when stdout is a terminal and pino-pretty is installed', shown: 'auto', ...server })),
  closeTimeout: ms('How long a graceful close (SIGINT, SIGTERM) may take before the process exits 1', 15_000, server),
  requestTimeout: ms('How long a request may take to arrive, head and body, before it is answered 408 and its connection closed; open WebSocket connections and SSE streams are not affected', 10_000, server),
  workers: integer('Processes sharing the port (node:cluster); more than 1 needs redisUrl', 1, 1, 1024, server),
  trustProxy: Type.Array(Type.String(), {
    description: 'Addresses or CIDRs of the reverse proxies in front (e.g. 127.0.0.1,10.0.0.0/8): the client address is read from X-Forwarded-For past them (logs, REST rate limit), and a plain X-Request-Id they set is kept; none by default',
    default: [],
    check: (list: unknown) => { try { proxyAddr.compile(list as string[]); return true } catch { return false } },
    allowed: 'IP addresses or CIDR ranges (comma-separated outside the file)',
    ...server
  }),
  prefix: Type.String({ description: "Where the routes are mounted, e.g. '/realtime'", default: '', pattern: '^(/(?!\\.+(/|$))[A-Za-z0-9._~-]+)*$', allowed: "empty, or a path such as '/realtime' (segments of letters, digits and ._~-, not dots alone)", ...server }),

  redisUrl: Type.Optional(Type.String({
    description: 'Run on the Redis engine at this URL (redis://[user:password@]host:port/db, rediss:// for TLS); unset: in memory. See scaling.md',
    check: isRedisUrl,
    allowed: REDIS_URL_RULE,
    ...redis,
    flag: 'redis',
    shown: 'unset',
    // It may hold a password.
    secret: true
  })),
  redisTimeout: ms('How long a Redis command may take before the request fails with UNAVAILABLE', 1000, redis),
  redisHeartbeat: ms('Interval of presence refreshes and subscription probes', 5000, redis, 10),
  redisKeyPrefix: Type.String({ description: 'Prefix of every Redis key and channel, so that deployments can share a Redis', default: 'pubsub:', pattern: '^[A-Za-z0-9_.:-]+$', allowed: 'letters, digits and _.:- (no glob characters)', ...redis }),

  jwtSecret: text('Turns auth on with HS256 and this secret (auth.md); prefer the environment or the file to a flag, which `ps` shows', { ...auth, shown: 'unset', secret: true }),
  jwtPublicKey: text('Path (from the working directory) to a PEM public key (RSA: RS256, EC P-256: ES256): turns auth on', { ...auth, shown: 'unset' }),
  jwtJwks: text('Path (from the working directory) to a JSON Web Key Set file (keys chosen by `kid`): turns auth on', { ...auth, shown: 'unset' }),
  publishApiKey: text('With auth on: a key that may publish anywhere over REST (`Authorization: Bearer <key>`)', { ...auth, shown: 'unset', secret: true }),
  jwtClockTolerance: integer('Seconds of clock skew tolerated on `exp` and `nbf`', 0, 0, 3600, auth),
  jwtMaxGrants: integer('Grants a token may carry, `subscribe` and `publish` together; a token with more is refused with 401', 1000, 0, Number.MAX_SAFE_INTEGER, auth),

  maxConnections: integer('WebSocket connections and SSE streams at once; past it an upgrade answers 503', 10_000, 1, Number.MAX_SAFE_INTEGER, limits),
  maxSubscriptions: integer('Subscriptions one connection may hold', 1000, 1, Number.MAX_SAFE_INTEGER, limits),
  maxPatternTokens: integer('Tokens a wildcard pattern may have; a longer one answers INVALID_TOPIC (bounds the pattern walk of a publish)', 8, 1, 128, limits),
  maxSubscriptionBytes: integer('Bytes the topics and patterns of one connection\'s subscriptions may add up to; past it TOO_MANY_SUBSCRIPTIONS', 64 * 1024, 1, Number.MAX_SAFE_INTEGER, limits),
  maxPayload: integer('Largest WebSocket frame, in bytes; a larger one closes the connection with 1009', 64 * 1024, 1, MAX_INT32, limits),
  bodyLimit: integer('Largest `POST /publish/:topic` body, in bytes; larger answers 413', 64 * 1024, 1, Number.MAX_SAFE_INTEGER, limits),
  maxBufferedBytes: integer('Bytes one client left unread for a whole turn past which it is closed with 1013 (slow consumer); 8 times it queued at once, too', 1024 * 1024, 1, Number.MAX_SAFE_INTEGER, limits),
  maxTopics: integer('Topics the in-memory engine remembers; past it a new topic\'s sequence is not kept', 100_000, 1, Number.MAX_SAFE_INTEGER, limits),
  topicTtl: integer('Seconds a topic with no exact subscriber keeps its sequence after its last publish', 300, 1, Math.floor(MAX_INT32 / 1000), limits),
  historySize: integer('Messages each topic retains for recovery and its history route; 0 turns history off', 100, 0, Number.MAX_SAFE_INTEGER, limits),
  historyTtl: integer('Seconds a retained message is kept', 300, 1, Math.floor(MAX_INT32 / 1000), limits),
  idempotencyWindow: integer('Seconds a publish\'s idempotency key (`key`, `Idempotency-Key`) is remembered: a repeat within it answers the first reply, `duplicate: true`', 300, 1, Math.floor(MAX_INT32 / 1000), limits),
  maxIdempotencyKeys: integer('Idempotency keys the in-memory engine remembers; past it the oldest is forgotten early', 100_000, 1, Number.MAX_SAFE_INTEGER, limits),
  presenceLimit: integer('Client ids `GET /topics/:topic` lists at most; 0 lists none', 100, 0, 10_000, limits),
  pingInterval: ms('Interval of heartbeat pings; a client that missed the previous one is terminated', 25_000, limits, 10),
  closeGrace: ms('How long a client closed by the server gets to finish the close handshake', 5000, limits),
  allowedOrigins: Type.Array(Type.String(), {
    description: "Browser origins allowed to connect besides the server's own host ('*': any); comma-separated in the environment and flags",
    default: [],
    // The plugin's own rule, so that what passes here registers.
    check: (origins: unknown) => { try { normalizeOrigins(origins); return true } catch { return false } },
    allowed: ORIGINS_RULE,
    ...limits
  }),
  rateLimit: pair('Inbound WebSocket frames per connection as `rate,burst` (per second, bucket size), or `off`', limits),
  restRateLimit: pair('`POST /publish` requests per client address as `max,timeWindow` (window in ms), or `off`', limits),

  console: flag('Serve the web console at `GET /`', true, features),
  docs: flag('Serve the OpenAPI document at `GET /docs/json` and Swagger UI at `GET /docs`', true, features),
  metrics: flag('Serve Prometheus metrics at `GET /metrics`; false also removes the latency histogram and per-topic counters from the fan-out path (a plain counter per message stays)', true, features),
  metricsTopics: integer('Topics that get their own `topic` label in per-topic metrics (later ones count as `(other)`); 0: no per-topic metrics', 0, 0, 10_000, features),

  underPressure: flag('Load shedding (@fastify/under-pressure): past a threshold below, new requests answer 503 (not /health, /metrics). On for the server; off by default for apps mounting the plugin', true, pressure),
  maxEventLoopDelay: ms('Mean event-loop delay over a sample past which requests are refused; 0: off', 1000, pressure, 0),
  maxHeapUsedBytes: integer('V8 heap in use, in bytes, past which requests are refused; 0: off', 0, 0, Number.MAX_SAFE_INTEGER, pressure),
  maxRssBytes: integer('Resident set size, in bytes, past which requests are refused; 0: off', 0, 0, Number.MAX_SAFE_INTEGER, pressure),
  maxEventLoopUtilization: Type.Number({ description: 'Event-loop utilization (0 to 1) past which requests are refused; 0: off', default: 0, minimum: 0, maximum: 1, ...pressure })
}, { additionalProperties: false })

export type Settings = Static<typeof SettingsSchema>
export type SettingKey = keyof Settings & string

/** The settings' schemas by key, with the metadata above. */
export const SETTINGS = SettingsSchema.properties as unknown as Record<SettingKey, TSchema & Source & { type?: string, description: string, default?: unknown, pattern?: string }>

export function envName (key: SettingKey): string {
  return SETTINGS[key].env ?? key.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()
}

export function flagName (key: SettingKey): string {
  return SETTINGS[key].flag ?? key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
}

/** The environment variable and flag naming the config file. */
export const CONFIG_FILE = { env: 'CONFIG_FILE', flag: 'config' }

/** A setting's default as the docs and `--help` show it. */
export function defaultText (key: SettingKey): string {
  const { shown, default: value } = SETTINGS[key]
  if (shown !== undefined) return shown
  if (Array.isArray(value)) return value.join(',') || 'none'
  return value === '' ? "''" : String(value)
}

import proxyAddr from '@fastify/proxy-addr'
import Type, { type Static, type TBoolean, type TInteger, type TArray, type TOptional, type TSchema, type TString } from 'typebox'
import { isOriginList, ORIGINS_RULE } from '../auth/origins.js'
import { allowed as optionAllowed, PressureSchema, PubsubOptionsSchema, type OptionMeta } from '../options-schema.js'
import { KEY_PREFIX, LIMITS, MAX_INT32 } from '../pubsub/defaults.js'
import { checkNamespaces } from '../pubsub/namespaces.js'
import { ADDRESSES_RULE, isAddressList } from '../pubsub/redis/addresses.js'
import { isRedisUrl, REDIS_URL_RULE } from '../pubsub/redis/url.js'
import { formatDuration } from './duration.js'

// Every setting of the standalone server, once: its type, range, default and
// meaning. Those that are plugin options take the plugin's schema (one
// default, one range) and add where they are read from. config.ts reads
// them from a JSON file, the environment and flags; docs/configuration.md
// and `--help` are rendered from here.

/** What a setting adds to its JSON schema: where it is read from, and in what unit. */
interface Source extends OptionMeta {
  /** The environment variable; by default the key in SCREAMING_SNAKE_CASE. */
  env?: string
  /** The flag without `--`; by default the key in kebab-case. */
  flag?: string
  /** Never printed: an error names the setting without its value. */
  secret?: boolean
  /** A check past what the schema says, for values only code can judge. */
  check?: (value: unknown) => boolean
  /**
   * A duration that was in seconds before durations were ms everywhere: a
   * bare number is refused, so that an old `TOPIC_TTL=300` cannot become
   * 300 ms unnoticed.
   */
  wasSeconds?: boolean
  /** In place of the plugin option's, where a setting is stricter. */
  pattern?: string
  /** Read from the JSON file only: a nested map is neither a flag nor a variable, which are refused. */
  fileOnly?: true
  /** Checks a file-only value before its schema, throwing PUBSUB_ERR_OPTION that ends with `where` (` in config.json`). */
  checkIn?: (value: unknown, where: string) => void
  section: Section
}

export type Section = 'server' | 'redis' | 'auth' | 'limits' | 'features' | 'pressure'

/** A plugin option's schema, read as a setting from `source`. */
function option<T extends TSchema> (schema: T, source: Source): T {
  return { ...schema, ...source }
}
function integer (description: string, fallback: number, minimum: number, maximum: number, source: Source): TInteger {
  return Type.Integer({ description, default: fallback, minimum, maximum, ...source })
}
function ms (description: string, fallback: number, source: Source, minimum = 1): TInteger {
  return Type.Integer({ description, default: fallback, minimum, maximum: MAX_INT32, unit: 'ms', ...source })
}
function flag (description: string, fallback: boolean, source: Source): TBoolean {
  return Type.Boolean({ description, default: fallback, ...source })
}
function text (description: string, source: Source): TOptional<TString> {
  return Type.Optional(Type.String({ description, minLength: 1, ...source }))
}
/** A list of `host:port` (addresses.ts), comma-separated outside the file. */
function addresses (description: string, source: Source): TOptional<TArray<TString>> {
  return Type.Optional(Type.Array(Type.String(), { description, check: isAddressList, allowed: `${ADDRESSES_RULE} (comma-separated outside the file)`, ...source }))
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
const seconds = { section: 'limits', wasSeconds: true } as const

const PLUGIN = PubsubOptionsSchema.properties
const PRESSURE = PressureSchema.properties

export const SettingsSchema = Type.Object({
  host: Type.String({ description: "Interface to listen on; '0.0.0.0' for every IPv4 interface", default: '127.0.0.1', minLength: 1, ...server }),
  port: integer('TCP port (0 picks a free one)', 8080, 0, 65535, server),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { description: 'pino log level', default: 'info', ...server }),
  logPretty: Type.Optional(Type.Boolean({ description: 'Human-readable logs through pino-pretty (a dev dependency); by default only when stdout is a terminal and pino-pretty is installed', shown: 'auto', ...server })),
  closeTimeout: ms('How long a graceful close (SIGINT, SIGTERM) may take before the process exits 1', 15_000, server),
  requestTimeout: ms('How long a request may take to arrive, head and body, before it is answered 408 and its connection closed; open WebSocket connections and SSE streams are not affected', 10_000, server),
  workers: integer('Processes sharing the port (node:cluster); more than 1 needs redisUrl or redisClusterNodes', 1, 1, 1024, server),
  trustProxy: Type.Array(Type.String(), {
    description: 'Addresses or CIDRs of the reverse proxies in front (e.g. 127.0.0.1,10.0.0.0/8): the client address is read from X-Forwarded-For past them (logs, REST rate limit), and a plain X-Request-Id they set is kept; none by default',
    default: [],
    check: (list: unknown) => { try { proxyAddr.compile(list as string[]); return true } catch { return false } },
    allowed: 'IP addresses or CIDR ranges (comma-separated outside the file)',
    ...server
  }),
  tlsCert: text('Path (from the working directory) to a PEM certificate, with its chain: with tlsKey, the server speaks HTTPS and wss:// itself; unset, plain HTTP, for TLS at a proxy (deployment.md)', { ...server, shown: 'unset' }),
  tlsKey: text('Path (from the working directory) to the PEM private key of tlsCert', { ...server, shown: 'unset' }),
  // Stricter than the plugin's: a path segment of what Fastify routes as written.
  prefix: option(PLUGIN.prefix, { pattern: '^(/(?!\\.+(/|$))[A-Za-z0-9._~-]+)*$', allowed: "empty, or a path such as '/realtime' (segments of letters, digits and ._~-, not dots alone)", ...server }),

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
  redisSentinels: addresses('Run on the Redis engine on the primary these sentinels name (host:port each), following its failovers, instead of redisUrl; with redisSentinelName. See scaling.md', { ...redis, shown: 'unset' }),
  redisSentinelName: text("With redisSentinels: the name they monitor the primary under (the 'sentinel monitor <name>' line)", { ...redis, shown: 'unset' }),
  redisPassword: text("With redisSentinels: the password of the primary and its replicas; with redisClusterNodes: the nodes' password (with redisUrl it goes in the URL)", { ...redis, shown: 'unset', secret: true }),
  redisSentinelPassword: text("With redisSentinels: the sentinels' own password, when they have one", { ...redis, shown: 'unset', secret: true }),
  redisPrimaryChange: Type.Optional(Type.Union([Type.Literal('new-epoch'), Type.Literal('continue')], {
    description: "When the engine lands on another primary (a failover, a restart): 'new-epoch' starts each topic's sequence over, since that primary may lack the last messages clients saw (recovery then says so); 'continue' goes on, right for a Redis whose AOF keeps every write. Auto: 'new-epoch' with redisSentinels and redisClusterNodes, 'continue' with redisUrl. See scaling.md",
    ...redis,
    shown: 'auto'
  })),
  redisClusterNodes: addresses('Run on the Redis Cluster engine, with these of its nodes as host:port (comma-separated outside the file; one is enough, the others are discovered); unset: redisUrl or in memory. See scaling.md', { ...redis, shown: 'unset' }),
  redisClusterTls: flag('With redisClusterNodes: TLS to every node (with redisUrl, use rediss://)', false, redis),
  redisClusterTlsCa: text('With redisClusterNodes: a PEM file of the CA that signed the nodes\' certificates, instead of the system\'s; turns TLS on', { ...redis, shown: 'unset' }),
  redisTimeout: Type.Integer({ description: 'How long a Redis command may take before the request fails with UNAVAILABLE', ...LIMITS.redisTimeout, ...redis }),
  redisHeartbeat: Type.Integer({ description: 'Interval of presence refreshes and subscription probes', ...LIMITS.redisHeartbeat, ...redis }),
  redisKeyPrefix: Type.String({ description: 'Prefix of every Redis key and channel, so that deployments can share a Redis', default: KEY_PREFIX.default, pattern: KEY_PREFIX.pattern, allowed: KEY_PREFIX.allowed, ...redis }),

  jwtSecret: text('Turns auth on with HS256 and this secret, at least 32 bytes (auth.md); prefer the environment or the file to a flag, which `ps` shows', { ...auth, shown: 'unset', secret: true }),
  jwtPublicKey: text('Path (from the working directory) to a PEM public key (RSA: RS256, EC P-256: ES256): turns auth on', { ...auth, shown: 'unset' }),
  jwtJwks: text('Path (from the working directory) to a JSON Web Key Set file (keys chosen by `kid`): turns auth on', { ...auth, shown: 'unset' }),
  publishApiKey: text('With auth on: a key that may publish anywhere over REST (`Authorization: Bearer <key>`)', { ...auth, shown: 'unset', secret: true }),
  jwtClockTolerance: integer('Seconds of clock skew tolerated on `exp` and `nbf`', 0, 0, 3600, auth),
  jwtMaxGrants: integer('Grants a token may carry, `subscribe` and `publish` together; a token with more is refused with 401', 1000, 0, Number.MAX_SAFE_INTEGER, auth),

  maxConnections: option(PLUGIN.maxConnections, limits),
  maxSubscriptions: option(PLUGIN.maxSubscriptions, limits),
  maxPatternTokens: option(PLUGIN.maxPatternTokens, limits),
  maxSubscriptionBytes: option(PLUGIN.maxSubscriptionBytes, limits),
  maxPayload: option(PLUGIN.maxPayload, limits),
  bodyLimit: option(PLUGIN.bodyLimit, limits),
  maxBufferedBytes: option(PLUGIN.maxBufferedBytes, limits),
  maxTopics: option(PLUGIN.maxTopics, limits),
  topicTtl: option(PLUGIN.topicTtl, seconds),
  historySize: option(PLUGIN.historySize, limits),
  historyTtl: option(PLUGIN.historyTtl, seconds),
  idempotencyWindow: option(PLUGIN.idempotencyWindow, seconds),
  maxIdempotencyKeys: option(PLUGIN.maxIdempotencyKeys, limits),
  presenceLimit: option(PLUGIN.presenceLimit, limits),
  pingInterval: option(PLUGIN.pingInterval, limits),
  closeGrace: option(PLUGIN.closeGrace, limits),
  allowedOrigins: option(PLUGIN.allowedOrigins, {
    // The plugin's own rule, so that what passes here registers.
    check: isOriginList,
    allowed: `${ORIGINS_RULE} (comma-separated outside the file)`,
    ...limits
  }),
  rateLimit: pair('Inbound WebSocket frames per connection as `rate,burst` (per second, bucket size), or `off`', limits),
  restRateLimit: pair('`POST /publish` requests per client address as `max,timeWindow` (window in ms), or `off`', limits),

  console: option(PLUGIN.console, features),
  docs: option(PLUGIN.docs, features),
  metrics: option(PLUGIN.metrics, features),
  metricsTopics: option(PLUGIN.metricsTopics, features),
  namespaces: option(PLUGIN.namespaces, { ...features, fileOnly: true, checkIn: (value, where) => { checkNamespaces(value, where) } }),

  underPressure: flag('Load shedding (@fastify/under-pressure): past a threshold below, new requests answer 503 (not /health, /metrics). On for the server; off by default for apps mounting the plugin', true, pressure),
  maxEventLoopDelay: option(PRESSURE.maxEventLoopDelay, pressure),
  maxHeapUsedBytes: option(PRESSURE.maxHeapUsedBytes, pressure),
  maxRssBytes: option(PRESSURE.maxRssBytes, pressure),
  maxEventLoopUtilization: option(PRESSURE.maxEventLoopUtilization, pressure)
}, { additionalProperties: false })

export type Settings = Static<typeof SettingsSchema>
export type SettingKey = keyof Settings & string

/** The settings' schemas by key, with the metadata above. */
export const SETTINGS = SettingsSchema.properties as unknown as Record<SettingKey, SettingSchema>

export type SettingSchema = TSchema & Source & { type?: string, description: string, default?: unknown, pattern?: string, minimum?: number, maximum?: number }

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
  if (SETTINGS[key].unit === 'ms') return formatDuration(value as number)
  return value === '' ? "''" : String(value)
}

/** What a setting takes, in words, for error messages and the docs. */
export function allowed (schema: SettingSchema): string {
  if (schema.unit !== 'ms') return optionAllowed(schema)
  const range = `from ${formatDuration(schema.minimum as number)} to ${formatDuration(schema.maximum as number)}`
  return schema.wasSeconds === true
    ? `a duration with its unit, ${range}, such as '30s' or '5m' (a bare number is refused: this setting took seconds before)`
    : `a duration ${range}, such as '250ms', '30s', '5m' or '1h' (a bare number is ms)`
}

import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { parseArgs } from 'node:util'
import Value from 'typebox/value'
import { Authenticator, isStrongSecret, SHORT_SECRET, type AuthOptions } from '../auth/authenticator.js'
import { PubsubOptionsSchema } from '../options-schema.js'
import type { PubsubOptions } from '../options.js'
import { PUBSUB_ERR_OPTION } from '../protocol/errors.js'
import { parseDuration } from './duration.js'
import { allowed, CONFIG_FILE, envName, flagName, SETTINGS, type SettingKey, type Settings } from './settings.js'

/** The standalone server's configuration. See docs/configuration.md. */
export interface Config {
  host: string
  port: number
  logLevel: string
  /** undefined: pretty when stdout is a terminal and pino-pretty is installed. */
  logPretty: boolean | undefined
  /** Milliseconds a graceful close may take before the process exits 1. */
  closeTimeout: number
  /** Milliseconds a request (head and body) may take to arrive before it is answered 408. */
  requestTimeout: number
  /** Processes sharing the port (node:cluster); more than 1 needs the Redis engine. */
  workers: number
  /** PEM texts: the server speaks HTTPS. undefined: plain HTTP. */
  tls: Readonly<{ cert: string, key: string }> | undefined
  /** The proxies whose X-Forwarded-For and X-Request-Id are believed (addresses or CIDRs); none when empty. */
  trustProxy: readonly string[]
  /** Settings given that have no effect (logged at startup): `REDIS_TIMEOUT` without `REDIS_URL`, say. */
  warnings: readonly string[]
  pubsub: PubsubOptions
}

const KEYS = Object.keys(SETTINGS) as SettingKey[]

/** The server's flags, for node:util's parseArgs: each takes a value (`--metrics false`). */
export const SERVER_FLAGS = Object.fromEntries([CONFIG_FILE.flag, ...KEYS.map(flagName)].map((name) => [name, { type: 'string' as const }]))

/**
 * Reads the settings once, each from the first place that has it: a flag,
 * the environment, the JSON file named by `--config` or CONFIG_FILE, the
 * default. The only reader of `process.env`: plugins take typed options.
 * Throws PUBSUB_ERR_OPTION naming the setting where it was read, the value
 * and what is allowed.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2)): Readonly<Config> {
  const settings = readSettings(env, argv)
  return toConfig(settings, unused(settings))
}

/** Settings that act only with another one on: [those settings, what they need, whether it is on]. */
const NEEDS: Array<[SettingKey[], string, (s: Settings) => boolean]> = [
  [['redisTimeout', 'redisHeartbeat', 'redisKeyPrefix', 'redisPrimaryChange'], 'redisUrl, redisSentinels or redisClusterNodes', (s) => s.redisUrl !== undefined || s.redisSentinels !== undefined || s.redisClusterNodes !== undefined],
  [['redisSentinelName', 'redisSentinelPassword'], 'redisSentinels', (s) => s.redisSentinels !== undefined],
  [['redisPassword'], 'redisSentinels or redisClusterNodes', (s) => s.redisSentinels !== undefined || s.redisClusterNodes !== undefined],
  [['redisClusterTls', 'redisClusterTlsCa'], 'redisClusterNodes', (s) => s.redisClusterNodes !== undefined],
  [['jwtClockTolerance', 'jwtMaxGrants'], 'jwtSecret, jwtPublicKey or jwtJwks', (s) => s.jwtSecret !== undefined || s.jwtPublicKey !== undefined || s.jwtJwks !== undefined],
  [['metricsTopics'], 'metrics', (s) => s.metrics],
  [['maxEventLoopDelay', 'maxHeapUsedBytes', 'maxRssBytes', 'maxEventLoopUtilization'], 'underPressure', (s) => s.underPressure]
]

/** A warning for each setting moved off its default where it cannot act. */
function unused (s: Settings): string[] {
  const warnings: string[] = []
  for (const [keys, needed, on] of NEEDS) {
    if (on(s)) continue
    for (const key of keys) {
      if (s[key] !== SETTINGS[key].default) warnings.push(`${names(key)} has no effect without ${needed}`)
    }
  }
  return warnings
}

/** Every setting, checked, from the first source that has it (loadConfig's first half). */
export function readSettings (env: NodeJS.ProcessEnv, argv: string[]): Settings {
  const { values: flags } = parseArgs({ args: argv, options: SERVER_FLAGS, strict: true, allowPositionals: false })
  const path = flags[CONFIG_FILE.flag] ?? nonEmpty(env[CONFIG_FILE.env])
  const file = path === undefined ? {} : readConfigFile(path)
  const settings: Record<string, unknown> = {}
  for (const key of KEYS) {
    const flag = flags[flagName(key)]
    // An empty variable is unset, except for auth, where it would turn auth off unnoticed.
    const fromEnv = SETTINGS[key].section === 'auth' ? env[envName(key)] : nonEmpty(env[envName(key)])
    if (SETTINGS[key].fileOnly === true && (flag !== undefined || fromEnv !== undefined)) {
      throw new PUBSUB_ERR_OPTION(flag !== undefined ? `--${flagName(key)}` : envName(key), HIDDEN, `${key} is read from the JSON config file only (${FILE_NAMES}): a map is not a flag or variable; see docs/namespaces.md`)
    }
    const value = flag !== undefined
      ? checked(key, `--${flagName(key)}`, flag, true)
      : fromEnv !== undefined
        ? checked(key, envName(key), fromEnv, true)
        : key in file ? checked(key, ` in ${path as string}`, file[key], false) : SETTINGS[key].default
    if (value !== undefined) settings[key] = value
  }
  return settings as Settings
}

/** A setting's every name, for errors that involve more than where one value came from. */
function names (key: SettingKey): string {
  return `${key} (${envName(key)}, --${flagName(key)})`
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === '' ? undefined : value
}

/** The config file's own names, for its errors. */
const FILE_NAMES = `${CONFIG_FILE.env} (--${CONFIG_FILE.flag})`

function readConfigFile (path: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new PUBSUB_ERR_OPTION(FILE_NAMES, path, `a readable JSON file (${(err as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new PUBSUB_ERR_OPTION(FILE_NAMES, path, 'a JSON object of settings')
  const unknown = Object.keys(parsed).filter((key) => !(key in SETTINGS))
  // Without its value: a misspelled secret is still a secret.
  if (unknown.length > 0) throw new PUBSUB_ERR_OPTION(`${unknown[0] as string} in ${path}`, HIDDEN, 'not a setting: see docs/configuration.md')
  return parsed as Record<string, unknown>
}

/** A flag's or variable's text as the setting's type; left as text when it does not parse, for `checked` to refuse. */
function fromText (key: SettingKey, raw: string): unknown {
  const type = SETTINGS[key].type
  if (type === 'integer' || type === 'number') return /^-?(\d+(\.\d+)?|\.\d+)$/.test(raw) ? Number(raw) : raw
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw
  if (type === 'array') return raw.split(',').map((item) => item.trim()).filter((item) => item !== '')
  return raw
}

/**
 * A setting's value from `raw`: a flag's or variable's text (`text`), or the
 * file's JSON value. Durations read `30s` and the like from either. Throws
 * PUBSUB_ERR_OPTION naming `where` when it does not fit.
 */
function checked (key: SettingKey, where: string, raw: unknown, text: boolean): unknown {
  const schema = SETTINGS[key]
  // In the file, `where` is ` in <path>`: the key goes first.
  if (!text) {
    schema.checkIn?.(raw, where)
    where = `${key}${where}`
  }
  const value = schema.unit === 'ms' ? parseDuration(raw, schema.wasSeconds === true) : text ? fromText(key, raw as string) : raw
  if (!Value.Check(schema, value) || schema.check?.(value) === false) {
    throw new PUBSUB_ERR_OPTION(where, schema.secret === true ? HIDDEN : schema.unit === 'ms' ? raw : value, allowed(schema))
  }
  return value
}

/** What an error shows instead of a value it must not print. */
const HIDDEN = '(hidden)'

/** The settings that are plugin options under the same name and in the same form. */
const SHARED = KEYS.filter((key) => key in PubsubOptionsSchema.properties && !['rateLimit', 'restRateLimit', 'underPressure'].includes(key))

function toConfig (s: Settings, warnings: string[]): Readonly<Config> {
  if (s.workers > 1 && s.redisUrl === undefined && s.redisSentinels === undefined && s.redisClusterNodes === undefined) {
    throw new PUBSUB_ERR_OPTION(names('workers'), s.workers, `more than 1 needs ${names('redisUrl')}, ${names('redisSentinels')} or ${names('redisClusterNodes')}: the in-memory engine is one per process`)
  }
  const pubsub: PubsubOptions = {
    ...Object.fromEntries(SHARED.map((key) => [key, s[key]])),
    ...redisEngine(s),
    ...authOptions(s),
    rateLimit: pair(s.rateLimit, 'rate', 'burst'),
    restRateLimit: pair(s.restRateLimit, 'max', 'timeWindow'),
    underPressure: s.underPressure && {
      maxEventLoopDelay: s.maxEventLoopDelay,
      maxHeapUsedBytes: s.maxHeapUsedBytes,
      maxRssBytes: s.maxRssBytes,
      maxEventLoopUtilization: s.maxEventLoopUtilization
    }
  }
  return deepFreeze({ host: s.host, port: s.port, logLevel: s.logLevel, logPretty: s.logPretty, closeTimeout: s.closeTimeout, requestTimeout: s.requestTimeout, workers: s.workers, tls: tlsOptions(s), trustProxy: s.trustProxy, warnings, pubsub })
}

/** The Redis engine's options, by URL or by sentinels, or the Redis Cluster engine's; none for the in-memory engine. */
function redisEngine (s: Settings): Pick<PubsubOptions, 'engine'> {
  const redis = { timeout: s.redisTimeout, heartbeat: s.redisHeartbeat, keyPrefix: s.redisKeyPrefix, ...defined({ primaryChange: s.redisPrimaryChange }) }
  if (s.redisClusterNodes !== undefined) {
    if (s.redisUrl !== undefined || s.redisSentinels !== undefined) {
      throw new PUBSUB_ERR_OPTION(names('redisClusterNodes'), s.redisClusterNodes, `one engine: ${names('redisUrl')}, ${names('redisSentinels')} or this, not two`)
    }
    const tls = s.redisClusterTlsCa !== undefined ? { ca: readText('redisClusterTlsCa', s.redisClusterTlsCa) } : s.redisClusterTls ? true : undefined
    return { engine: { type: 'redis-cluster', nodes: [...s.redisClusterNodes], ...redis, ...defined({ password: s.redisPassword, tls }) } }
  }
  const common = { type: 'redis' as const, ...redis }
  if (s.redisSentinels === undefined) return s.redisUrl === undefined ? {} : { engine: { ...common, url: s.redisUrl } }
  if (s.redisUrl !== undefined) throw new PUBSUB_ERR_OPTION(`${names('redisUrl')} and ${names('redisSentinels')}`, HIDDEN, 'one of them only: the sentinels name the primary')
  if (s.redisSentinelName === undefined) throw new PUBSUB_ERR_OPTION(names('redisSentinelName'), undefined, `used with ${names('redisSentinels')}: the name they monitor the primary under`)
  return { engine: { ...common, sentinels: s.redisSentinels, name: s.redisSentinelName, ...defined({ password: s.redisPassword, sentinelPassword: s.redisSentinelPassword }) } }
}

/** `values` without its undefined entries, so that the config lists what was set. */
function defined<T extends Record<string, unknown>> (values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>
}

/** tlsCert and tlsKey, read and tried together, so that a bad pair fails at startup naming them. */
function tlsOptions (s: Settings): Config['tls'] {
  if (s.tlsCert === undefined && s.tlsKey === undefined) return undefined
  if (s.tlsCert === undefined || s.tlsKey === undefined) {
    const [given, missing] = s.tlsCert === undefined ? ['tlsKey', 'tlsCert'] as const : ['tlsCert', 'tlsKey'] as const
    throw new PUBSUB_ERR_OPTION(names(given), s[given], `used with ${names(missing)}: HTTPS needs both`)
  }
  const tls = { cert: readText('tlsCert', s.tlsCert), key: readText('tlsKey', s.tlsKey) }
  try {
    createSecureContext(tls)
  } catch (err) {
    // OpenSSL's reason ("key values mismatch", "no start line"), never the key.
    throw new PUBSUB_ERR_OPTION(`${names('tlsCert')} and ${names('tlsKey')}`, HIDDEN, `a PEM certificate and its private key (${(err as Error).message})`)
  }
  return tls
}

/** A file named by a setting; unreadable, a configuration error naming it. */
function readText (key: SettingKey, path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new PUBSUB_ERR_OPTION(names(key), path, `a readable file (${(err as Error).message})`)
  }
}

/** jwtSecret, jwtPublicKey (a PEM file) or jwtJwks (a JWK set file) turn auth on. */
function authOptions (s: Settings): { auth?: AuthOptions } {
  const given = (['jwtSecret', 'jwtPublicKey', 'jwtJwks'] as const).filter((key) => s[key] !== undefined)
  if (given.length === 0) {
    if (s.publishApiKey !== undefined) throw new PUBSUB_ERR_OPTION(names('publishApiKey'), HIDDEN, `used with one of ${names('jwtSecret')}, ${names('jwtPublicKey')}, ${names('jwtJwks')}`)
    return {}
  }
  if (given.length > 1) throw new PUBSUB_ERR_OPTION(given.map(names).join(' and '), HIDDEN, 'one of them only: a token is verified with one kind of key')
  const key = given[0] as 'jwtSecret' | 'jwtPublicKey' | 'jwtJwks'
  let auth: AuthOptions
  if (key === 'jwtSecret') {
    if (!isStrongSecret(s.jwtSecret as string)) throw new PUBSUB_ERR_OPTION(names('jwtSecret'), HIDDEN, SHORT_SECRET)
    auth = { secret: s.jwtSecret }
  } else {
    const path = s[key] as string
    const text = readText(key, path)
    if (key === 'jwtPublicKey') {
      auth = { publicKey: text }
    } else {
      try {
        auth = { jwks: JSON.parse(text) as AuthOptions['jwks'] }
      } catch {
        throw new PUBSUB_ERR_OPTION(names(key), path, 'a JSON file holding {"keys": [...]}')
      }
    }
  }
  auth = { ...auth, apiKey: s.publishApiKey, clockTolerance: s.jwtClockTolerance, maxGrants: s.jwtMaxGrants }
  // A key file is tried once here, so that one it cannot use is a
  // configuration error naming the setting (any secret will do).
  if (key !== 'jwtSecret') {
    try {
      new Authenticator(auth) // eslint-disable-line no-new -- constructing it checks the options
    } catch (err) {
      throw new PUBSUB_ERR_OPTION(names(key), s[key], (err as Error).message.replace(/^Invalid option 'auth': /, ''))
    }
  }
  return { auth }
}

/** `'rate,burst'` → `{ rate, burst }`; `'off'` → false. The schema's pattern has checked the shape. */
function pair<A extends string, B extends string> (raw: string, a: A, b: B): false | Record<A | B, number> {
  if (raw === 'off') return false
  const [first, second] = raw.split(',').map(Number)
  return { [a]: first, [b]: second } as Record<A | B, number>
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

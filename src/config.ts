import { readFileSync } from 'node:fs'
import type { AuthOptions } from './auth/authenticator.js'
import { PUBSUB_ERR_OPTION } from './pubsub/errors.js'
import type { PubsubOptions } from './options.js'

/** The standalone server's settings. See docs/configuration.md. */
export interface Config {
  host: string
  port: number
  logLevel: string
  /** Milliseconds a graceful close may take before the process exits 1. */
  closeTimeout: number
  /** Processes sharing the port (node:cluster); more than 1 needs the Redis engine. */
  workers: number
  pubsub: PubsubOptions
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/**
 * Reads the environment once. The only reader of `process.env`: plugins take
 * typed options. Throws PUBSUB_ERR_OPTION naming the variable.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2)): Readonly<Config> {
  const workers = workerCount(env, argv)
  if (workers > 1 && (env.REDIS_URL === undefined || env.REDIS_URL === '')) {
    throw new PUBSUB_ERR_OPTION('WORKERS', workers, 'more than 1 needs REDIS_URL: the in-memory engine is one per process')
  }
  const port = integer(env, 'PORT', 8080, 0)
  if (port > 65535) throw new PUBSUB_ERR_OPTION('PORT', env.PORT, 'an integer from 0 to 65535')
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new PUBSUB_ERR_OPTION('LOG_LEVEL', logLevel, LOG_LEVELS.join(', '))
  return Object.freeze({
    host: env.HOST ?? '127.0.0.1',
    port,
    logLevel,
    closeTimeout: integer(env, 'CLOSE_TIMEOUT', 15_000, 1, 2 ** 31 - 1),
    workers,
    pubsub: Object.freeze({
      // REDIS_URL switches to the Redis engine (docs/scaling.md).
      ...(env.REDIS_URL === undefined || env.REDIS_URL === ''
        ? {}
        : { engine: Object.freeze({ type: 'redis' as const, url: env.REDIS_URL, timeout: integer(env, 'REDIS_TIMEOUT', 1000), heartbeat: integer(env, 'REDIS_HEARTBEAT', 5000, 10) }) }),
      ...authFromEnv(env),
      maxSubscriptions: integer(env, 'MAX_SUBSCRIPTIONS', 1000),
      presenceLimit: integer(env, 'PRESENCE_LIMIT', 100, 0),
      maxPayload: integer(env, 'MAX_PAYLOAD', 64 * 1024),
      bodyLimit: integer(env, 'BODY_LIMIT', 64 * 1024),
      maxBufferedBytes: integer(env, 'MAX_BUFFERED_BYTES', 1024 * 1024),
      topicTtl: integer(env, 'TOPIC_TTL', 300) * 1000,
      maxTopics: integer(env, 'MAX_TOPICS', 100_000),
      historySize: integer(env, 'HISTORY_SIZE', 100, 0),
      historyTtl: integer(env, 'HISTORY_TTL', 300) * 1000,
      maxConnections: integer(env, 'MAX_CONNECTIONS', 10_000),
      pingInterval: integer(env, 'PING_INTERVAL', 25_000),
      closeGrace: integer(env, 'CLOSE_GRACE', 5000),
      allowedOrigins: list(env.ALLOWED_ORIGINS),
      rateLimit: pair(env, 'RATE_LIMIT', 'rate', 'burst'),
      restRateLimit: pair(env, 'REST_RATE_LIMIT', 'max', 'timeWindow')
    })
  })
}

/**
 * JWT_SECRET, JWT_PUBLIC_KEY (a PEM file) or JWT_JWKS (a JWK set file) turn
 * auth on; PUBLISH_API_KEY adds a key for backend publishers.
 */
function authFromEnv (env: NodeJS.ProcessEnv): { auth?: AuthOptions } {
  const set = (name: string): string | undefined => env[name] === '' ? undefined : env[name]
  const file = (name: string): string | undefined => {
    const path = set(name)
    if (path === undefined) return undefined
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      throw new PUBSUB_ERR_OPTION(name, path, `a readable file (${(err as Error).message})`)
    }
  }
  const secret = set('JWT_SECRET')
  const publicKey = file('JWT_PUBLIC_KEY')
  const jwks = file('JWT_JWKS')
  const apiKey = set('PUBLISH_API_KEY')
  if (secret === undefined && publicKey === undefined && jwks === undefined) {
    if (apiKey !== undefined) throw new PUBSUB_ERR_OPTION('PUBLISH_API_KEY', '…', 'used with one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS')
    return {}
  }
  let keys: AuthOptions['jwks']
  if (jwks !== undefined) {
    try {
      keys = JSON.parse(jwks) as AuthOptions['jwks']
    } catch {
      throw new PUBSUB_ERR_OPTION('JWT_JWKS', env.JWT_JWKS, 'a JSON file holding {"keys": [...]}')
    }
  }
  return { auth: Object.freeze({ secret, publicKey, jwks: keys, apiKey }) }
}

/** `--workers N` (or `--workers=N`) on the command line, else WORKERS, else 1. */
function workerCount (env: NodeJS.ProcessEnv, argv: string[]): number {
  const flag = argv.findIndex((arg) => arg === '--workers' || arg.startsWith('--workers='))
  if (flag === -1) return integer(env, 'WORKERS', 1)
  const arg = argv[flag] as string
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[flag + 1]
  if (value === undefined || value === '') throw new PUBSUB_ERR_OPTION('--workers', value, 'an integer >= 1')
  return integer({ '--workers': value }, '--workers', 1)
}

function list (raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '')
}

/** `RATE_LIMIT=rate,burst` or `REST_RATE_LIMIT=max,timeWindow`: two integers, or unset/`off` for none. */
function pair<A extends string, B extends string> (env: NodeJS.ProcessEnv, name: string, a: A, b: B): false | Record<A | B, number> {
  const raw = env[name]
  if (raw === undefined || raw === '' || raw === 'off') return false
  const [first, second, extra] = raw.split(',').map(Number)
  if (extra !== undefined || !Number.isSafeInteger(first) || !Number.isSafeInteger(second) || (first as number) < 1 || (second as number) < 1) {
    throw new PUBSUB_ERR_OPTION(name, raw, `'${a},${b}': two integers >= 1; or 'off'`)
  }
  return { [a]: first, [b]: second } as Record<A | B, number>
}

function integer (env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new PUBSUB_ERR_OPTION(name, raw, `an integer from ${min} to ${max}`)
  return value
}

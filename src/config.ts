import { PUBSUB_ERR_OPTION } from './pubsub/errors.js'
import type { PubsubOptions } from './options.js'

/** The standalone server's settings. See docs/configuration.md. */
export interface Config {
  host: string
  port: number
  logLevel: string
  /** Milliseconds a graceful close may take before the process exits 1. */
  closeTimeout: number
  pubsub: PubsubOptions
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/**
 * Reads the environment once. The only reader of `process.env`: plugins take
 * typed options. Throws PUBSUB_ERR_OPTION naming the variable.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const port = integer(env, 'PORT', 8080, 0)
  if (port > 65535) throw new PUBSUB_ERR_OPTION('PORT', env.PORT, 'an integer from 0 to 65535')
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new PUBSUB_ERR_OPTION('LOG_LEVEL', logLevel, LOG_LEVELS.join(', '))
  return Object.freeze({
    host: env.HOST ?? '127.0.0.1',
    port,
    logLevel,
    closeTimeout: integer(env, 'CLOSE_TIMEOUT', 10_000),
    pubsub: Object.freeze({
      maxSubscriptions: integer(env, 'MAX_SUBSCRIPTIONS', 1000),
      maxPayload: integer(env, 'MAX_PAYLOAD', 64 * 1024),
      bodyLimit: integer(env, 'BODY_LIMIT', 64 * 1024),
      maxBufferedBytes: integer(env, 'MAX_BUFFERED_BYTES', 1024 * 1024),
      topicTtl: integer(env, 'TOPIC_TTL', 300) * 1000
    })
  })
}

function integer (env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min) throw new PUBSUB_ERR_OPTION(name, raw, `an integer >= ${min}`)
  return value
}

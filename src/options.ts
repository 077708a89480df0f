import type { Engine } from './pubsub/engine.js'
import { PUBSUB_ERR_OPTION } from './pubsub/errors.js'
import { positiveInteger, resolveBrokerOptions, type BrokerOptions } from './pubsub/options.js'

/** Options of the fastify-pubsub plugin. Every limit has a default; see docs/limits.md. */
export interface PubsubOptions extends BrokerOptions {
  /** Where the routes are mounted, e.g. `/realtime`. Default: none. */
  prefix?: string
  /** The engine to run on; in memory by default. */
  engine?: Engine
  /** Largest WebSocket frame, in bytes (default 64 KiB); a larger one closes the connection with 1009. */
  maxPayload?: number
  /** Largest `POST /publish/:topic` body, in bytes (default 64 KiB); larger answers 413. */
  bodyLimit?: number
  /** Bytes queued for one client past which it is closed with 1013 (default 1 MiB). */
  maxBufferedBytes?: number
  /** Serve the web console at `GET /` (default true). */
  console?: boolean
  /** In-memory engine: ms a topic with no exact subscriber keeps its sequence after its last publish (default 5 min). */
  topicTtl?: number
}

export interface ResolvedOptions {
  prefix: string
  engine: Engine | undefined
  maxSubscriptions: number
  maxPayload: number
  bodyLimit: number
  maxBufferedBytes: number
  console: boolean
  topicTtl: number
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
    maxSubscriptions: resolveBrokerOptions(options).maxSubscriptions,
    maxPayload: options.maxPayload ?? 64 * 1024,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    console: options.console ?? true,
    topicTtl: options.topicTtl ?? 5 * 60_000
  }
  if (typeof resolved.prefix !== 'string' || (resolved.prefix !== '' && !resolved.prefix.startsWith('/'))) {
    throw new PUBSUB_ERR_OPTION('prefix', resolved.prefix, "a path starting with '/'")
  }
  positiveInteger('maxPayload', resolved.maxPayload)
  positiveInteger('bodyLimit', resolved.bodyLimit)
  positiveInteger('maxBufferedBytes', resolved.maxBufferedBytes)
  positiveInteger('topicTtl', resolved.topicTtl)
  if (typeof resolved.console !== 'boolean') throw new PUBSUB_ERR_OPTION('console', resolved.console, 'true or false')
  return Object.freeze(resolved)
}

import { Redis, type RedisOptions } from 'ioredis'
import { PUBSUB_ERR_OPTION } from '../../protocol/errors.js'
import { ADDRESSES_RULE, parseAddresses } from './addresses.js'
import { isRedisUrl, REDIS_URL_RULE } from './url.js'

/** Where the engine's connections go: one Redis by URL, or the primary that Sentinel names. */
export interface RedisTarget {
  /** `redis://host:port/db` (`rediss://` for TLS); or `sentinels` instead. */
  url?: string
  /** The sentinels to ask where the primary is, `host:port` each, instead of `url`: failovers are followed. */
  sentinels?: string[]
  /** With `sentinels`: the name they monitor the primary under. */
  name?: string
  /** With `sentinels`: the password of the primary and its replicas (with `url`, it goes in the URL). */
  password?: string
  /** With `sentinels`: the sentinels' own password, when they have one. */
  sentinelPassword?: string
}

/** What `name` takes with sentinels, in words. */
const SENTINEL_NAME_RULE = "the name Sentinel monitors the primary under (its 'sentinel monitor <name> ...' line), with sentinels"

/** What a connection needs besides the engine's common options. */
export type Connect = (options: RedisOptions) => Redis

/**
 * Checks `target` and returns how to open a connection to it. With
 * sentinels, ioredis asks them for the primary, checks the role of what it
 * reaches (INFO), and asks again on every reconnect, so a failover is
 * followed by a reconnect (https://github.com/redis/ioredis#sentinel): a
 * dead primary drops both connections, and Sentinel closes the normal and
 * pubsub clients of every instance it reconfigures (sentinel.c,
 * sentinelSendSlaveOf: CLIENT KILL TYPE normal, then pubsub).
 */
export function connector (target: RedisTarget, common: RedisOptions): Connect {
  const { url, sentinels, name, password, sentinelPassword } = target
  if (sentinels === undefined) {
    // Never hand ioredis a URL it cannot use (url.ts).
    if (!isRedisUrl(url)) throw new PUBSUB_ERR_OPTION('url', '(hidden)', `${REDIS_URL_RULE}; or sentinels and name instead`)
    for (const [key, value] of Object.entries({ name, password, sentinelPassword })) {
      if (value !== undefined) throw new PUBSUB_ERR_OPTION(key, '(hidden)', 'used with sentinels only (with url, a password goes in the URL)')
    }
    return (options) => new Redis(url as string, { ...common, ...options })
  }
  if (url !== undefined) throw new PUBSUB_ERR_OPTION('url', '(hidden)', 'either url or sentinels, not both')
  const addresses = parseAddresses(sentinels)
  if (addresses === undefined) throw new PUBSUB_ERR_OPTION('sentinels', sentinels, ADDRESSES_RULE)
  if (typeof name !== 'string' || name === '') throw new PUBSUB_ERR_OPTION('name', name, SENTINEL_NAME_RULE)
  return (options) => new Redis({
    ...common,
    ...options,
    sentinels: addresses,
    name,
    password,
    sentinelPassword,
    // Sentinels that are all away are tried again as Redis is.
    sentinelRetryStrategy: common.retryStrategy as (attempt: number) => number,
    sentinelCommandTimeout: common.connectTimeout
  })
}

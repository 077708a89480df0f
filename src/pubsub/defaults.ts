import { PUBSUB_ERR_OPTION } from '../protocol/errors.js'
import { MAX_INT32 } from '../protocol/limits.js'

// The broker's and the engines' numeric options, once: default and range.
// The plugin's options schema (src/options-schema.ts), the standalone server's
// settings and the engines themselves read them here.

export { MAX_INT32 }

/** A numeric option's default and inclusive range, as JSON Schema names them. */
export interface Limit {
  readonly default: number
  readonly minimum: number
  readonly maximum: number
  /** Durations are integers of milliseconds. */
  readonly unit?: 'ms'
}

const COUNT = { minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const
const DURATION = { minimum: 1, maximum: MAX_INT32, unit: 'ms' } as const

export const LIMITS = {
  maxSubscriptions: { default: 1000, ...COUNT },
  // A topic of 256 bytes has at most 128 tokens.
  maxPatternTokens: { default: 8, minimum: 1, maximum: 128 },
  maxSubscriptionBytes: { default: 64 * 1024, ...COUNT },
  presenceLimit: { default: 100, minimum: 0, maximum: 10_000 },
  topicTtl: { default: 5 * 60_000, ...DURATION },
  maxTopics: { default: 100_000, ...COUNT },
  historySize: { default: 100, ...COUNT, minimum: 0 },
  historyTtl: { default: 5 * 60_000, ...DURATION },
  idempotencyWindow: { default: 5 * 60_000, ...DURATION },
  maxIdempotencyKeys: { default: 100_000, ...COUNT },
  /** RedisEngineOptions.timeout. */
  redisTimeout: { default: 1000, ...DURATION },
  /** RedisEngineOptions.heartbeat. */
  redisHeartbeat: { default: 5000, ...DURATION, minimum: 10 }
} as const satisfies Record<string, Limit>

/** RedisEngineOptions.keyPrefix: a glob character would let PSUBSCRIBE match another deployment's channels. */
export const KEY_PREFIX = { default: 'pubsub:', pattern: '^[A-Za-z0-9_.:-]+$', allowed: 'letters, digits and _.:- (no glob characters)' } as const

/** What a limit takes, in words, for PUBSUB_ERR_OPTION. */
export function rangeText ({ minimum, maximum }: Pick<Limit, 'minimum' | 'maximum'>): string {
  return maximum === Number.MAX_SAFE_INTEGER ? `an integer >= ${minimum}` : `an integer from ${minimum} to ${maximum}`
}

/**
 * `value`, or the default of option `key` when it is undefined; throws
 * PUBSUB_ERR_OPTION, naming the option `name`, outside its range.
 */
export function limit (key: keyof typeof LIMITS, value: unknown, name: string = key): number {
  const { default: fallback, minimum, maximum } = LIMITS[key]
  const chosen = value ?? fallback
  positiveInteger(name, chosen, minimum, maximum)
  return chosen as number
}

/** Throws PUBSUB_ERR_OPTION unless `value` is an integer from `min` to `max`. */
export function positiveInteger (name: string, value: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new PUBSUB_ERR_OPTION(name, value, rangeText({ minimum: min, maximum: max }))
  }
}

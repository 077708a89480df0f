import { PUBSUB_ERR_OPTION } from '../protocol/errors.js'

/** Options of the broker itself, whatever the transport. */
export interface BrokerOptions {
  /** Subscriptions one session may hold (default 1,000); more answer TOO_MANY_SUBSCRIPTIONS. */
  maxSubscriptions?: number
  /**
   * Tokens a wildcard pattern may have (default 8); a longer one answers
   * INVALID_TOPIC. A publish walks every pattern branch that could match
   * it, up to 2^(tokens+1) of them: this bounds that walk. Exact topics are
   * not limited (they cost one Map entry).
   */
  maxPatternTokens?: number
  /**
   * Bytes the topics and patterns of one session's subscriptions may add up
   * to (default 64 KiB); a subscribe past it answers TOO_MANY_SUBSCRIPTIONS.
   * Bounds the memory one connection's subscriptions hold.
   */
  maxSubscriptionBytes?: number
  /** Client ids that `topic()` (and `GET /topics/:topic`) lists at most (default 100; 0 lists none). */
  presenceLimit?: number
}

export type ResolvedBrokerOptions = Readonly<Required<BrokerOptions>>

/** Copies, checks and defaults broker options once; throws PUBSUB_ERR_OPTION. */
export function resolveBrokerOptions (options: BrokerOptions = {}): ResolvedBrokerOptions {
  const resolved = {
    maxSubscriptions: options.maxSubscriptions ?? 1000,
    maxPatternTokens: options.maxPatternTokens ?? 8,
    maxSubscriptionBytes: options.maxSubscriptionBytes ?? 64 * 1024,
    presenceLimit: options.presenceLimit ?? 100
  }
  positiveInteger('maxSubscriptions', resolved.maxSubscriptions)
  // A topic of 256 bytes has at most 128 tokens.
  positiveInteger('maxPatternTokens', resolved.maxPatternTokens, 1, 128)
  positiveInteger('maxSubscriptionBytes', resolved.maxSubscriptionBytes)
  positiveInteger('presenceLimit', resolved.presenceLimit, 0, 10_000)
  return Object.freeze(resolved)
}

export { MAX_INT32 } from '../protocol/limits.js'

/** Throws PUBSUB_ERR_OPTION unless `value` is an integer from `min` to `max`. */
export function positiveInteger (name: string, value: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new PUBSUB_ERR_OPTION(name, value, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`)
  }
}

import { limit } from './defaults.js'
import type { NamespaceOptions } from './namespaces.js'

// Kept here for the files that import them from here.
export { MAX_INT32, positiveInteger } from './defaults.js'

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
  /**
   * Options for the topics a pattern matches (docs/namespaces.md): keys are
   * patterns (`chat.>`, `user.*.inbox`); a topic takes the most specific
   * that matches it, else the plugin's defaults. Default: none.
   */
  namespaces?: Record<string, NamespaceOptions>
}

export type ResolvedBrokerOptions = Readonly<Required<Omit<BrokerOptions, 'namespaces'>>>

/** Copies, checks and defaults broker options once; throws PUBSUB_ERR_OPTION. */
export function resolveBrokerOptions (options: BrokerOptions = {}): ResolvedBrokerOptions {
  return Object.freeze({
    maxSubscriptions: limit('maxSubscriptions', options.maxSubscriptions),
    maxPatternTokens: limit('maxPatternTokens', options.maxPatternTokens),
    maxSubscriptionBytes: limit('maxSubscriptionBytes', options.maxSubscriptionBytes),
    presenceLimit: limit('presenceLimit', options.presenceLimit)
  })
}

import { clip, PUBSUB_ERR_FORBIDDEN } from '../protocol/errors.js'
import { MAX_INT32 } from '../pubsub/options.js'
import type { Identity } from './authenticator.js'
import { mayPublish, maySubscribe } from './grants.js'

// What every transport asks of an identity: may it do this, and when does it
// end. `undefined` is auth off: everything is allowed, nothing expires.

/**
 * Long enough for any valid topic or pattern (256 bytes): the refusal names
 * what was asked in full, and a longer path from a URL is still cut.
 */
const NAME_CLIP = 300

/**
 * Throws PUBSUB_ERR_FORBIDDEN unless the grants cover `pattern` (a topic or
 * pattern). `doing` words the refusal: "not allowed to <doing> <pattern>".
 */
export function assertMaySubscribe (identity: Identity | undefined, pattern: string, doing = 'subscribe to'): void {
  if (identity !== undefined && !maySubscribe(identity, pattern)) throw new PUBSUB_ERR_FORBIDDEN(`not allowed to ${doing} ${clip(pattern, NAME_CLIP)}`)
}

/** Throws PUBSUB_ERR_FORBIDDEN unless the grants let the holder publish to `topic`. */
export function assertMayPublish (identity: Identity | undefined, topic: string): void {
  if (identity !== undefined && !mayPublish(identity, topic)) throw new PUBSUB_ERR_FORBIDDEN(`not allowed to publish to ${clip(topic, NAME_CLIP)}`)
}

/**
 * Calls `onExpire` when the token behind `identity` expires (at once if it
 * has), so that a connection ends with its token. Undefined when it never
 * does: auth off, no `exp`, or past a timer's range (24.8 days), where the
 * connection lives until it ends by itself.
 */
export function expiryTimer (identity: Identity | undefined, onExpire: (identity: Identity) => void): NodeJS.Timeout | undefined {
  if (identity?.expiresAt === undefined) return undefined
  const left = Math.max(0, identity.expiresAt - Date.now())
  if (left > MAX_INT32) return undefined
  return setTimeout(onExpire, left, identity)
}

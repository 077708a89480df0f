import { matches } from '../pubsub/topic.js'

/** What a token lets its holder do: patterns with the contract's wildcards. */
export interface Grants {
  subscribe: readonly string[]
  publish: readonly string[]
}

/**
 * Whether every topic that `pattern` matches is also matched by `grant`, so
 * that subscribing to `pattern` cannot reach beyond the grant. Token by
 * token: a literal covers itself; `*` covers a literal or `*` (one token,
 * not `>`, which spans several); `>` covers one or more remaining tokens,
 * whatever they are. Granted `news.sports`, `news.*` is refused: it also
 * matches `news.weather`.
 */
export function covers (grant: string, pattern: string): boolean {
  const want = grant.split('.')
  const have = pattern.split('.')
  for (let i = 0; i < want.length; i++) {
    const token = want[i]
    if (token === '>') return have.length > i
    const asked = have[i]
    if (asked === undefined || asked === '>') return false
    if (token !== '*' && token !== asked) return false
  }
  return want.length === have.length
}

export function maySubscribe (grants: Grants, pattern: string): boolean {
  return grants.subscribe.some((grant) => covers(grant, pattern))
}

export function mayPublish (grants: Grants, topic: string): boolean {
  return grants.publish.some((grant) => matches(grant, topic))
}

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
 *
 * The reference GrantTrie is tested against; checks go through the trie.
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

interface GrantNode {
  /** A grant ends here. */
  end: boolean
  next: Map<string, GrantNode> | undefined
}

/**
 * A grant list compiled into a token trie, once per token: a check walks
 * the asked topic's or pattern's tokens instead of splitting every grant.
 * Same answers as `covers` over the list (for a concrete topic, `covers` is
 * `matches`).
 */
export class GrantTrie {
  readonly #root: GrantNode = { end: false, next: undefined }

  constructor (grants: readonly string[]) {
    for (const grant of grants) {
      let node = this.#root
      for (const token of grant.split('.')) {
        node.next ??= new Map()
        let child = node.next.get(token)
        if (child === undefined) {
          child = { end: false, next: undefined }
          node.next.set(token, child)
        }
        node = child
      }
      node.end = true
    }
  }

  /** Whether some grant covers `pattern`. */
  covers (pattern: string): boolean {
    return walk(this.#root, pattern.split('.'), 0)
  }
}

// A tree: each node is reached at most once per check, so a check costs at
// most the trie's size, and usually the asked pattern's length.
function walk (node: GrantNode, asked: string[], i: number): boolean {
  if (i === asked.length) return node.end
  const next = node.next
  if (next === undefined) return false
  // A `>` grant covers one or more remaining tokens, whatever they are.
  if (next.has('>')) return true
  const token = asked[i] as string
  if (token === '>') return false
  if (token !== '*') {
    const literal = next.get(token)
    if (literal !== undefined && walk(literal, asked, i + 1)) return true
  }
  const star = next.get('*')
  return star !== undefined && walk(star, asked, i + 1)
}

interface Compiled {
  subscribe: GrantTrie
  publish: GrantTrie
}

// Grants compiled once per object: the Authenticator compiles a token's at
// verify time; other Grants (an app's own) on their first check. The lists
// are read once, so they must not change afterwards (the Authenticator's are frozen).
const compiled = new WeakMap<Grants, Compiled>()

/** Compiles `grants` for the checks below, unless done already; returns them. */
export function compileGrants<T extends Grants> (grants: T): T {
  if (!compiled.has(grants)) compiled.set(grants, { subscribe: new GrantTrie(grants.subscribe), publish: new GrantTrie(grants.publish) })
  return grants
}

function compiledOf (grants: Grants): Compiled {
  return compiled.get(compileGrants(grants)) as Compiled
}

export function maySubscribe (grants: Grants, pattern: string): boolean {
  return compiledOf(grants).subscribe.covers(pattern)
}

export function mayPublish (grants: Grants, topic: string): boolean {
  return compiledOf(grants).publish.covers(topic)
}

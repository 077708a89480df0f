import type { EngineCounts, LocalSubscriptions } from './engine.js'
import type { Message } from './message.js'
import type { Position, Subscriber } from './session.js'
import { SortedKeys } from './sorted-keys.js'
import { hasWildcard } from '../protocol/topic.js'

/**
 * A node of the pattern trie. Most nodes of a long pattern have one child, so
 * that child is held inline and a Map is grown only at a second one: a Map
 * costs several times a node, and a pattern of many tokens is a chain of them.
 */
interface PatternNode {
  /** The only child and its token (a literal, `*` or `>`), while there is one child. */
  token: string | undefined
  child: PatternNode | undefined
  /** Every child by token, once there are two or more (then `child` is undefined). */
  next: Map<string, PatternNode> | undefined
  /** Sessions subscribed to the pattern that ends at this node. */
  sessions: Set<Session> | undefined
  pattern: string | undefined
}

/**
 * What the index holds of a session: its subscriber, its keys, and the mark
 * that hands each message over once. Only the index writes `keys`, `keyBytes`
 * and `mark`; nothing outside the broker sees them.
 */
export interface IndexedSession {
  readonly subscriber: Subscriber
  readonly keys: Set<string>
  /** The summed length of `keys` (ASCII: their bytes), for maxSubscriptionBytes. */
  keyBytes: number
  /** The last fan-out that reached this session. */
  mark: number
}

type Session = IndexedSession

function newNode (): PatternNode {
  return { token: undefined, child: undefined, next: undefined, sessions: undefined, pattern: undefined }
}

function childOf (node: PatternNode, token: string): PatternNode | undefined {
  if (node.next !== undefined) return node.next.get(token)
  return node.token === token ? node.child : undefined
}

function addChild (node: PatternNode, token: string, child: PatternNode): void {
  if (node.next !== undefined) {
    node.next.set(token, child)
  } else if (node.child === undefined) {
    node.token = token
    node.child = child
  } else {
    node.next = new Map([[node.token as string, node.child], [token, child]])
    node.token = undefined
    node.child = undefined
  }
}

/** Removes a child; a Map left with one child goes back inline. */
function removeChild (node: PatternNode, token: string): void {
  if (node.next === undefined) {
    node.token = undefined
    node.child = undefined
    return
  }
  node.next.delete(token)
  if (node.next.size === 1) {
    const [only, child] = node.next.entries().next().value as [string, PatternNode]
    node.next = undefined
    node.token = only
    node.child = child
  }
}

/**
 * The broker's local subscriptions, whatever the engine: which sessions want
 * which topics and patterns, and the fan-out of one message to them. Exact topics sit in a Map;
 * patterns in a token trie, so the cost of a publish grows with the matching
 * subscriptions, not with all of them.
 */
export class SubscriptionIndex implements LocalSubscriptions {
  readonly #exact = new Map<string, Set<Session>>()
  readonly #patterns = new Map<string, Set<Session>>()
  readonly #root = newNode()
  readonly #topicNames = new SortedKeys()
  readonly #patternNames = new SortedKeys()
  #fanouts = 0
  #subscriptions = 0

  /** Subscribes; true when the key had no session before (first local interest). */
  add (session: Session, key: string): boolean {
    const wildcard = hasWildcard(key)
    const map = wildcard ? this.#patterns : this.#exact
    let sessions = map.get(key)
    const first = sessions === undefined
    if (sessions === undefined) {
      sessions = new Set()
      map.set(key, sessions)
      if (wildcard) {
        this.#insertPattern(key, sessions)
        this.#patternNames.add(key)
      } else {
        this.#topicNames.add(key)
      }
    }
    if (!sessions.has(session)) {
      sessions.add(session)
      this.#subscriptions++
    }
    if (!session.keys.has(key)) {
      session.keys.add(key)
      session.keyBytes += key.length
    }
    return first
  }

  /** Unsubscribes; true when the key has no session left (last local interest). */
  remove (session: Session, key: string): boolean {
    if (session.keys.delete(key)) session.keyBytes -= key.length
    const wildcard = hasWildcard(key)
    const map = wildcard ? this.#patterns : this.#exact
    const sessions = map.get(key)
    if (sessions === undefined || !sessions.delete(session)) return false
    this.#subscriptions--
    if (sessions.size > 0) return false
    map.delete(key)
    if (wildcard) {
      this.#removePattern(key)
      this.#patternNames.delete(key)
    } else {
      this.#topicNames.delete(key)
    }
    return true
  }

  /** Local sessions subscribed to exactly this topic or pattern. */
  count (key: string): number {
    return (hasWildcard(key) ? this.#patterns : this.#exact).get(key)?.size ?? 0
  }

  /** Client ids of up to `limit` sessions subscribed exactly to `topic`. */
  clientIds (topic: string, limit: number): string[] {
    const ids: string[] = []
    if (limit === 0) return ids
    for (const session of this.#exact.get(topic) ?? []) {
      const id = session.subscriber.sub ?? session.subscriber.clientId
      if (id === undefined) continue
      ids.push(id)
      if (ids.length === limit) break
    }
    return ids
  }

  /** Subscriptions, topics with an exact subscriber, and patterns subscribed to. */
  get counts (): EngineCounts {
    return { subscriptions: this.#subscriptions, topics: this.#topicNames.size, patterns: this.#patternNames.size }
  }

  get topicNames (): SortedKeys {
    return this.#topicNames
  }

  get patternNames (): SortedKeys {
    return this.#patternNames
  }

  /**
   * Hands `message` to every session with a matching subscription, once per
   * session, an exact subscription before patterns. Returns how many sessions
   * it reached.
   */
  deliver (message: Message): number {
    const mark = ++this.#fanouts
    let delivered = 0
    const exact = this.#exact.get(message.topic)
    if (exact !== undefined) {
      // Counted first: a session cut as a slow consumer leaves the set during the loop.
      delivered = exact.size
      for (const session of exact) {
        session.mark = mark
        session.subscriber.deliver(message, undefined)
      }
    }
    if (this.#patterns.size > 0) {
      const visit = (sessions: Set<Session>, pattern: string): void => {
        for (const session of sessions) {
          if (session.mark === mark) continue
          session.mark = mark
          session.subscriber.deliver(message, pattern)
          delivered++
        }
      }
      walk(this.#root, message.topic.split('.'), 0, visit)
    }
    return delivered
  }

  /**
   * How many sessions a message to `topic` would reach now, as `deliver`
   * counts them: for a publish whose fan-out happens later (a network engine).
   */
  reach (topic: string): number {
    const exact = this.#exact.get(topic)
    // Without patterns no session can be reached twice: nothing to mark.
    if (this.#patterns.size === 0) return exact?.size ?? 0
    const mark = ++this.#fanouts
    let reached = 0
    if (exact !== undefined) {
      reached = exact.size
      for (const session of exact) session.mark = mark
    }
    walk(this.#root, topic.split('.'), 0, (sessions) => {
      for (const session of sessions) {
        if (session.mark === mark) continue
        session.mark = mark
        reached++
      }
    })
    return reached
  }

  /** Tells every session subscribed to exactly `key` that messages of it may have been lost (Subscriber.reset). */
  reset (key: string, position: Position | undefined): void {
    const sessions = (hasWildcard(key) ? this.#patterns : this.#exact).get(key)
    if (sessions === undefined) return
    for (const session of sessions) session.subscriber.reset?.(key, position)
  }

  #insertPattern (pattern: string, sessions: Set<Session>): void {
    let node = this.#root
    for (const token of pattern.split('.')) {
      let child = childOf(node, token)
      if (child === undefined) {
        child = newNode()
        addChild(node, token, child)
      }
      node = child
    }
    node.sessions = sessions
    node.pattern = pattern
  }

  #removePattern (pattern: string): void {
    const path: Array<[PatternNode, string]> = []
    let node: PatternNode | undefined = this.#root
    for (const token of pattern.split('.')) {
      path.push([node, token])
      node = childOf(node, token)
      /* c8 ignore next -- every indexed pattern has its path */
      if (node === undefined) return
    }
    node.sessions = undefined
    node.pattern = undefined
    // Prune the branch back up to the first node still in use.
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, token] = path[i] as [PatternNode, string]
      const child = childOf(parent, token) as PatternNode
      if (child.sessions !== undefined || child.child !== undefined || child.next !== undefined) return
      removeChild(parent, token)
    }
  }
}

type Visit = (sessions: Set<Session>, pattern: string) => void

function walk (node: PatternNode, tokens: string[], i: number, visit: Visit): void {
  if (i === tokens.length) {
    if (node.sessions !== undefined) visit(node.sessions, node.pattern as string)
    return
  }
  const next = node.next
  if (next === undefined) {
    // One child (or none): compare its token instead of three Map lookups.
    const child = node.child
    if (child === undefined) return
    const token = node.token
    if (token === '>') visit(child.sessions as Set<Session>, child.pattern as string)
    else if (token === '*' || token === tokens[i]) walk(child, tokens, i + 1, visit)
    return
  }
  const rest = next.get('>')
  if (rest !== undefined) visit(rest.sessions as Set<Session>, rest.pattern as string)
  const literal = next.get(tokens[i] as string)
  if (literal !== undefined) walk(literal, tokens, i + 1, visit)
  const star = next.get('*')
  if (star !== undefined) walk(star, tokens, i + 1, visit)
}

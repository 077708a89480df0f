// Topic and pattern rules of the wire contract, in one place for WS, REST and
// the in-process API. Topics are ASCII, so a string's length is its byte size.

/** Longest topic or pattern, in bytes. */
export const MAX_TOPIC_LENGTH = 256

const TOKEN = '[A-Za-z0-9_\\-:@~=]+'
const topicRe = new RegExp(`^${TOKEN}(?:\\.${TOKEN})*$`)
const patternToken = `(?:${TOKEN}|\\*)`
const patternRe = new RegExp(`^(?:${patternToken}(?:\\.${patternToken})*(?:\\.>)?|>)$`)

/** True when `topic` is a concrete topic: something one can publish to. */
export function isTopic (topic: string): boolean {
  return topic.length <= MAX_TOPIC_LENGTH && topicRe.test(topic)
}

/** True when `pattern` is a topic or a wildcard pattern: something one can subscribe to. */
export function isPattern (pattern: string): boolean {
  return pattern.length <= MAX_TOPIC_LENGTH && patternRe.test(pattern)
}

/** How many tokens a topic or pattern has. */
export function tokenCount (pattern: string): number {
  let tokens = 1
  for (let i = pattern.indexOf('.'); i !== -1; i = pattern.indexOf('.', i + 1)) tokens++
  return tokens
}

/** True when a valid pattern has a wildcard token (`*` or `>`). */
export function hasWildcard (pattern: string): boolean {
  return pattern === '>' || pattern === '*' || pattern.startsWith('*.') ||
    pattern.endsWith('.>') || pattern.endsWith('.*') || pattern.includes('.*.')
}

/**
 * Whether a concrete `topic` matches `pattern`. The broker uses a trie rather
 * than this function; it is the reference the trie is tested against.
 */
export function matches (pattern: string, topic: string): boolean {
  const want = pattern.split('.')
  const have = topic.split('.')
  for (let i = 0; i < want.length; i++) {
    const token = want[i]
    if (token === '>') return have.length > i
    if (i >= have.length) return false
    if (token !== '*' && token !== have[i]) return false
  }
  return want.length === have.length
}

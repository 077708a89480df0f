import t from 'tap'
import { compileGrants, covers, GrantTrie, mayPublish, maySubscribe } from '../../src/auth/grants.js'
import { matches } from '../../src/protocol/topic.js'

t.test('a grant covers a pattern only when every topic the pattern matches is granted', async (t) => {
  const rows: Array<[string, string, boolean]> = [
    ['news.sports', 'news.sports', true],
    ['news.sports', 'news.*', false],
    ['news.sports', 'news.>', false],
    ['news.sports', 'news', false],
    ['news.sports', 'news.sports.live', false],
    ['news.*', 'news.sports', true],
    ['news.*', 'news.*', true],
    ['news.*', 'news.>', false],
    ['news.*', 'news.sports.live', false],
    ['news.>', 'news.sports', true],
    ['news.>', 'news.*', true],
    ['news.>', 'news.>', true],
    ['news.>', 'news.*.live', true],
    ['news.>', 'news', false],
    ['news.>', '>', false],
    ['>', '>', true],
    ['>', 'a.*.c', true],
    ['*.sports', 'news.sports', true],
    ['*.sports', '*.sports', true],
    ['*.sports', '>', false],
    ['user:17.*', 'user:17.inbox', true],
    ['user:17.*', 'user:18.inbox', false],
    ['user:17.*', '*.inbox', false],
    // A `>` grant against wildcards asked, and the other way round.
    ['news.>', 'news.>.x', true],
    ['>', '*', true],
    ['>', 'a', true],
    ['a.>', 'a.*.*.>', true],
    ['a.>', '*.b', false],
    ['*', '>', false],
    ['*', '*', true],
    ['*.*', '*.>', false],
    ['*.>', '*.*', true],
    ['*.>', '*', false],
    ['a.*.c', 'a.*.c', true],
    ['a.*.c', 'a.>', false],
    ['a.*.c', 'a.b.*', false],
    // Deeper and shallower than the grant.
    ['a.b', 'a.b.c', false],
    ['a.b.c', 'a.b', false],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['a.b.>', 'a.b', false],
    ['a.b.>', 'a.b.c.d.e', true]
  ]
  for (const [grant, pattern, expected] of rows) {
    t.equal(covers(grant, pattern), expected, `${grant} covers ${pattern}: ${expected}`)
    t.equal(new GrantTrie([grant]).covers(pattern), expected, `compiled: ${grant} covers ${pattern}: ${expected}`)
  }
  // Every grant of the table in one trie: it covers a pattern when some row's grant does.
  const all = new GrantTrie(rows.map(([grant]) => grant))
  for (const [, pattern] of rows) {
    t.equal(all.covers(pattern), rows.some(([grant]) => covers(grant, pattern)), `all grants compiled cover ${pattern} as the list does`)
  }
  t.notOk(new GrantTrie([]).covers('a'), 'no grants, nothing covered')
})

t.test('the compiled grants agree with covers() and matches() over random lists', async (t) => {
  let seed = 14
  const next = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)] as T
  const pattern = (tokens: string[]): string => {
    const parts = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(tokens))
    if (next() < 0.3) parts[parts.length - 1] = '>'
    return parts.join('.')
  }
  for (let round = 0; round < 300; round++) {
    const grants = { subscribe: Array.from({ length: Math.floor(next() * 6) }, () => pattern(['a', 'b', '*'])), publish: Array.from({ length: Math.floor(next() * 6) }, () => pattern(['a', 'b', '*'])) }
    const asked = pattern(['a', 'b', '*'])
    const topic = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(['a', 'b'])).join('.')
    if (maySubscribe(grants, asked) !== grants.subscribe.some((grant) => covers(grant, asked)) ||
      mayPublish(grants, topic) !== grants.publish.some((grant) => matches(grant, topic))) {
      t.fail(`seed 14 round ${round}: ${JSON.stringify(grants)} asked ${asked}, topic ${topic}`)
      return
    }
  }
  const grants = { subscribe: ['a'], publish: [] }
  t.equal(compileGrants(grants), grants, 'compiling returns the grants; again is a no-op')
  t.equal(compileGrants(grants), grants)
  t.ok(maySubscribe(grants, 'a'))
})

t.test('publish needs a grant that matches the topic; no grants, nothing allowed', async (t) => {
  const grants = { subscribe: ['news.>'], publish: ['user:17.outbox', 'chat.*'] }
  t.ok(mayPublish(grants, 'user:17.outbox'))
  t.ok(mayPublish(grants, 'chat.lobby'))
  t.notOk(mayPublish(grants, 'chat.lobby.private'))
  t.notOk(mayPublish(grants, 'news.sports'), 'a subscribe grant does not let one publish')
  t.ok(maySubscribe(grants, 'news.world.*'))
  t.notOk(maySubscribe({ subscribe: [], publish: [] }, 'anything'))
})

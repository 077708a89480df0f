import t from 'tap'
import { covers, mayPublish, maySubscribe } from '../../src/auth/grants.js'

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
    ['user:17.*', '*.inbox', false]
  ]
  for (const [grant, pattern, expected] of rows) t.equal(covers(grant, pattern), expected, `${grant} covers ${pattern}: ${expected}`)
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

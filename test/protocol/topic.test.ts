import t from 'tap'
import { hasWildcard, isPattern, isTopic, matches, MAX_TOPIC_LENGTH } from '../../src/protocol/topic.js'

t.test('topics', async (t) => {
  const valid = ['news', 'news.sports', 'chat.room-42', 'user:17.inbox', 'a_b.c~d.e=f.g@h', 'A.Z.0.9', 'x'.repeat(MAX_TOPIC_LENGTH)]
  const invalid = ['', '.', 'news.', '.news', 'news..sports', 'news sports', 'news/sports', 'news.*', 'news.>', '>', '*',
    'news.sp*rts', 'é', 'news\n', 'x'.repeat(MAX_TOPIC_LENGTH + 1), 'a.>.b']
  for (const topic of valid) t.ok(isTopic(topic), `topic ${JSON.stringify(topic.slice(0, 20))}`)
  for (const topic of invalid) t.notOk(isTopic(topic), `not a topic ${JSON.stringify(topic.slice(0, 20))}`)
})

t.test('patterns', async (t) => {
  const valid = ['news', 'news.*', 'news.>', '>', '*', '*.sports', 'a.*.c', '*.*', 'a.*.>', '*.>']
  const invalid = ['', 'news.>.x', '>.news', 'news.**', 'news.s*', 'news.>>', '>>', 'news..*', '*.', 'x'.repeat(MAX_TOPIC_LENGTH - 1) + '.*']
  for (const pattern of valid) t.ok(isPattern(pattern), `pattern ${pattern}`)
  for (const pattern of invalid) t.notOk(isPattern(pattern), `not a pattern ${pattern.slice(0, 20)}`)
})

t.test('hasWildcard', async (t) => {
  for (const p of ['*', '>', 'a.*', '*.a', 'a.*.b', 'a.>']) t.ok(hasWildcard(p), p)
  for (const p of ['a', 'a.b', 'a-b.c:d', 'x*y']) t.notOk(hasWildcard(p), p)
})

t.test('matches: the wildcard table', async (t) => {
  const rows: Array<[string, string, boolean]> = [
    ['news', 'news', true],
    ['news', 'news.sports', false],
    ['news.*', 'news.sports', true],
    ['news.*', 'news', false],
    ['news.*', 'news.sports.football', false],
    ['news.>', 'news.sports', true],
    ['news.>', 'news.sports.football', true],
    ['news.>', 'news', false],
    ['>', 'news', true],
    ['>', 'news.sports.football', true],
    ['*', 'news', true],
    ['*', 'news.sports', false],
    ['*.sports', 'news.sports', true],
    ['*.sports', 'news.weather', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.b.d', false],
    ['a.*.c', 'a.c', false],
    ['a.*.>', 'a.b.c', true],
    ['a.*.>', 'a.b', false],
    ['*.*', 'a.b', true],
    ['*.*', 'a.b.c', false]
  ]
  for (const [pattern, topic, expected] of rows) t.equal(matches(pattern, topic), expected, `${pattern} ~ ${topic}`)
})

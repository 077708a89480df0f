import t from 'tap'
import { parseRequest, RequestError } from '../../src/protocol/request.js'

t.test('valid requests', async (t) => {
  t.same(parseRequest('{"action":"ping"}'), { action: 'ping', id: undefined })
  t.same(parseRequest('{"action":"ping","id":"x","extra":1}'), { action: 'ping', id: 'x' }, 'unknown fields are ignored')
  t.same(parseRequest('{"action":"subscribe","topic":"a.*","id":7,"since":0,"epoch":"e"}'),
    { action: 'subscribe', id: 7, topic: 'a.*', since: 0, epoch: 'e' })
  t.same(parseRequest('{"action":"unsubscribe","topic":"a"}'), { action: 'unsubscribe', id: undefined, topic: 'a' })
  t.same(parseRequest('{"action":"publish","topic":"a","message":null}'), { action: 'publish', id: undefined, topic: 'a', message: null })
})

t.test('every bad frame answers its code, with the id when it had a valid one', async (t) => {
  const rows: Array<[string, string, string | number | undefined]> = [
    ['not json', 'BAD_JSON', undefined],
    ['', 'BAD_JSON', undefined],
    ['[1,2]', 'BAD_JSON', undefined],
    ['"ping"', 'BAD_JSON', undefined],
    ['null', 'BAD_JSON', undefined],
    ['42', 'BAD_JSON', undefined],
    ['{"action":"publish","topic":"a","message":{"__proto__":{"x":1}},"id":9}', 'BAD_REQUEST', 9],
    ['{"action":"publish","topic":"a","message":[{"constructor":{"prototype":{"x":1}}}]}', 'BAD_REQUEST', undefined],
    ['{"action":"ping","id":1e400}', 'BAD_REQUEST', undefined],
    ['{}', 'BAD_REQUEST', undefined],
    ['{"id":1}', 'BAD_REQUEST', 1],
    ['{"action":42,"id":"a"}', 'BAD_REQUEST', 'a'],
    ['{"action":"ping","id":{"x":1}}', 'BAD_REQUEST', undefined],
    [`{"action":"ping","id":"${'x'.repeat(65)}"}`, 'BAD_REQUEST', undefined],
    ['{"action":"dance","id":2}', 'UNKNOWN_ACTION', 2],
    ['{"action":"Subscribe","topic":"a"}', 'UNKNOWN_ACTION', undefined],
    ['{"action":"subscribe","id":3}', 'BAD_REQUEST', 3],
    ['{"action":"subscribe","topic":5}', 'BAD_REQUEST', undefined],
    ['{"action":"subscribe","topic":"a","since":-1}', 'BAD_REQUEST', undefined],
    ['{"action":"subscribe","topic":"a","since":1.5}', 'BAD_REQUEST', undefined],
    ['{"action":"subscribe","topic":"a","since":"3"}', 'BAD_REQUEST', undefined],
    ['{"action":"subscribe","topic":"a","epoch":3}', 'BAD_REQUEST', undefined],
    ['{"action":"unsubscribe","topic":null}', 'BAD_REQUEST', undefined],
    ['{"action":"publish","topic":"a"}', 'BAD_REQUEST', undefined],
    ['{"action":"publish","message":1,"id":4}', 'BAD_REQUEST', 4]
  ]
  for (const [text, code, id] of rows) {
    const err = t.throws(() => parseRequest(text), `${text.slice(0, 50)} → ${code}`) as RequestError
    t.equal(err.error.code, `PUBSUB_ERR_${code}`)
    t.equal(err.id, id)
  }
})

t.test('unknown fields are ignored, __proto__ and constructor included', async (t) => {
  t.same(parseRequest('{"action":"ping","__proto__":{"x":1},"id":1}'), { action: 'ping', id: 1 })
  t.same(parseRequest('{"action":"ping","constructor":{"prototype":{"x":1}}}'), { action: 'ping', id: undefined })
  t.equal(({} as Record<string, unknown>).x, undefined, 'nothing polluted')
  t.same(parseRequest('{"action":"publish","topic":"a","message":{"constructor":"fine","proto":1}}').action, 'publish',
    'a constructor key without prototype is data like any other')
  t.equal(parseRequest('{"action":"publish","topic":"a","message":"constructor.prototype"}').action, 'publish', 'so is a string')
})

t.test('a deeply nested frame is parsed, not crashed on', async (t) => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000)
  t.same(parseRequest(`{"action":"publish","topic":"a","message":${deep}}`).action, 'publish')
  const deepSafe = '{"constructor":'.repeat(50_000) + '1' + '}'.repeat(50_000)
  t.equal(parseRequest(`{"action":"publish","topic":"a","message":${deepSafe}}`).action, 'publish', 'scanned deep, found clean')
  const deepPoisoned = '{"a":'.repeat(50_000) + '{"__proto__":{"x":1}}' + '}'.repeat(50_000)
  const err = t.throws(() => parseRequest(`{"action":"publish","topic":"a","message":${deepPoisoned}}`)) as RequestError
  t.equal(err.error.code, 'PUBSUB_ERR_BAD_REQUEST', 'poison found deep down')
})

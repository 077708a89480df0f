import t from 'tap'
import { build, connectWelcomed, listen } from '../helper.js'

t.test('POST /publish/:topic reaches a /ws subscriber; answers topic, seq, delivered', async (t) => {
  const { app, url } = await listen(t)
  const c = await connectWelcomed(t, url)
  await c.subscribe('news.*')
  const res = await app.inject({ method: 'POST', url: '/publish/news.sports', payload: { score: '2-1' } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { topic: 'news.sports', seq: 1, epoch: String, delivered: 1 })
  t.match(await c.next(), { type: 'message', topic: 'news.sports', subscription: 'news.*', data: { score: '2-1' }, seq: 1 })
})

t.test('Idempotency-Key: a repeat answers the first reply with duplicate: true and publishes nothing', async (t) => {
  const app = await build(t)
  const got: unknown[] = []
  await app.pubsub.subscribe('orders', (m) => { got.push(m.data) })
  const post = async (payload: object, key?: string): Promise<{ statusCode: number, json: () => any }> => await app.inject({
    method: 'POST', url: '/publish/orders', payload, headers: key === undefined ? {} : { 'idempotency-key': key }
  })
  const first = await post({ n: 1 }, 'order-1')
  t.equal(first.statusCode, 200)
  t.same(first.json(), { topic: 'orders', seq: 1, epoch: first.json().epoch, delivered: 1 })
  const again = await post({ n: 1 }, 'order-1')
  t.equal(again.statusCode, 200)
  t.same(again.json(), { ...first.json(), duplicate: true })
  t.match((await post({ n: 2 }, 'order-2')).json(), { seq: 2 })
  for (const key of ['', 'k'.repeat(65)]) {
    const bad = await post({ n: 3 }, key)
    t.equal(bad.statusCode, 400, `key of ${key.length} characters`)
    t.match(bad.json(), { statusCode: 400, code: 'PUBSUB_ERR_BAD_REQUEST', message: /idempotency key/ })
  }
  await new Promise((resolve) => setImmediate(resolve))
  t.same(got, [{ n: 1 }, { n: 2 }], 'each key published once')
  t.equal(app.pubsub.counters.published.http, 2, 'a duplicate is not counted as published')
})

t.test('any JSON value, and text/plain as a string', async (t) => {
  const app = await build(t)
  const got: unknown[] = []
  await app.pubsub.subscribe('t', (m) => { got.push(m.data) })
  const bodies: Array<[string, string, unknown]> = [
    ['application/json', '{"a":[1,2]}', { a: [1, 2] }],
    ['application/json', '[1,"x"]', [1, 'x']],
    ['application/json', '42', 42],
    ['application/json', '"s"', 's'],
    ['application/json', 'null', null],
    ['application/json; charset=utf-8', 'true', true],
    ['text/plain', 'hello, world', 'hello, world'],
    ['text/plain; charset=utf-8', '{"not":"parsed"}', '{"not":"parsed"}']
  ]
  for (const [type, payload] of bodies) {
    const res = await app.inject({ method: 'POST', url: '/publish/t', headers: { 'content-type': type }, payload })
    t.equal(res.statusCode, 200, `${type} ${payload}`)
  }
  t.same(got, bodies.map((b) => b[2]))
})

t.test('a 256-byte topic works in the URL', async (t) => {
  const app = await build(t)
  const topic = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64), 'd'.repeat(61)].join('.')
  t.equal(topic.length, 256)
  const res = await app.inject({ method: 'POST', url: `/publish/${topic}`, payload: [1] })
  t.equal(res.statusCode, 200)
  t.equal(res.json().topic, topic)
})

t.test('errors in Fastify\'s shape: 400, 413, 415', async (t) => {
  const app = await build(t, { bodyLimit: 1024 })
  const rows: Array<[string, Record<string, string>, string | undefined, number, string]> = [
    ['/publish/news.*', { 'content-type': 'application/json' }, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
    ['/publish/a..b', { 'content-type': 'application/json' }, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
    ['/publish/%3E', { 'content-type': 'application/json' }, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
    [`/publish/${'x'.repeat(257)}`, { 'content-type': 'application/json' }, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
    ['/publish/a', { 'content-type': 'application/json' }, '{bad', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
    ['/publish/a', { 'content-type': 'application/json' }, '', 400, 'FST_ERR_CTP_EMPTY_JSON_BODY'],
    ['/publish/a', { 'content-type': 'application/json' }, '{"__proto__":{"x":1}}', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
    ['/publish/a', {}, undefined, 400, 'PUBSUB_ERR_BAD_REQUEST'],
    ['/publish/a', { 'content-type': 'application/json' }, JSON.stringify('x'.repeat(2000)), 413, 'FST_ERR_CTP_BODY_TOO_LARGE'],
    ['/publish/a', { 'content-type': 'application/xml' }, '<a/>', 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE']
  ]
  for (const [url, headers, payload, statusCode, code] of rows) {
    const res = await app.inject({ method: 'POST', url, headers, payload })
    t.equal(res.statusCode, statusCode, `${url.slice(0, 30)} ${payload?.slice(0, 20)} → ${statusCode}`)
    t.match(res.json(), { statusCode, code, error: String, message: String })
  }
  const tooLarge = await app.inject({ method: 'POST', url: '/publish/a', headers: { 'content-type': 'application/json' }, payload: JSON.stringify('x'.repeat(2000)) })
  t.equal(tooLarge.json().message, 'the body is over 1024 bytes, the limit that bodyLimit (BODY_LIMIT) sets', 'the 413 names the limit and its settings')
  const unsupported = await app.inject({ method: 'POST', url: '/publish/a', headers: { 'content-type': 'application/xml' }, payload: '<a/>' })
  t.equal(unsupported.json().message, 'unsupported Content-Type: send application/json (any JSON value) or text/plain (the text is the message, a string)', 'the 415 lists what is accepted')
  const ok = await app.inject({ method: 'POST', url: '/publish/a', payload: { fine: true } })
  t.equal(ok.statusCode, 200, 'still serving')
})

t.test('503 once the broker is closed', async (t) => {
  const app = await build(t)
  await app.pubsub.close()
  const res = await app.inject({ method: 'POST', url: '/publish/a', payload: [1] })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'PUBSUB_ERR_UNAVAILABLE')
})

t.test('restRateLimit: 429 in Fastify\'s shape past the limit; other routes unaffected', async (t) => {
  const app = await build(t, { restRateLimit: { max: 3, timeWindow: 60_000 } })
  const codes: number[] = []
  for (let i = 0; i < 5; i++) codes.push((await app.inject({ method: 'POST', url: '/publish/a', payload: [i] })).statusCode)
  t.same(codes, [200, 200, 200, 429, 429])
  const limited = await app.inject({ method: 'POST', url: '/publish/a', payload: [9] })
  t.match(limited.json(), { statusCode: 429, error: 'Too Many Requests', message: String })
  t.equal((await app.inject('/topics')).statusCode, 200)
})

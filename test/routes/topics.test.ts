import t from 'tap'
import { build, connectWelcomed, listen } from '../helper.js'

t.test('GET /topics lists topics and patterns with figures, sorted', async (t) => {
  const { app, url } = await listen(t)
  const a = await connectWelcomed(t, url)
  const b = await connectWelcomed(t, url)
  await a.subscribe('news.sports')
  await b.subscribe('news.sports')
  await b.subscribe('chat')
  await b.subscribe('news.*')
  await app.inject({ method: 'POST', url: '/publish/news.sports', payload: [1] })
  const res = await app.inject('/topics')
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    topics: [
      { topic: 'chat', subscribers: 1, seq: 0, epoch: res.json().topics[0].epoch },
      { topic: 'news.sports', subscribers: 2, seq: 1, epoch: res.json().topics[1].epoch }
    ],
    patterns: [{ pattern: 'news.*', subscribers: 1 }]
  })
  const one = await app.inject('/topics/news.sports')
  t.match(one.json(), { topic: 'news.sports', subscribers: 2, seq: 1 })
  const missing = await app.inject('/topics/nobody.here')
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { statusCode: 404, code: 'PUBSUB_ERR_TOPIC_NOT_FOUND', error: 'Not Found' })
  const bad = await app.inject('/topics/news.*')
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'PUBSUB_ERR_INVALID_TOPIC')
})

t.test('prefix, limit and cursor page through 100,000 topics', async (t) => {
  const app = await build(t, { maxSubscriptions: 100_000, maxSubscriptionBytes: 1 << 22 })
  const session = app.pubsub.connect({ deliver () {} })
  const names: string[] = []
  for (let i = 0; i < 100_000; i++) names.push(`t${String(i).padStart(6, '0')}`)
  for (const name of names) await session.subscribe(name)
  const first = await app.inject('/topics?limit=1000&prefix=t0999')
  t.same(first.json().topics.map((x: { topic: string }) => x.topic), names.slice(99_900))
  t.equal(first.json().next, undefined)
  const seen: string[] = []
  let cursor: string | undefined
  for (let page = 0; page < 200; page++) {
    const res = await app.inject({ url: '/topics', query: { limit: '1000', ...(cursor === undefined ? {} : { cursor }) } })
    t.equal(res.statusCode, 200)
    const body = res.json()
    seen.push(...body.topics.map((x: { topic: string }) => x.topic))
    cursor = body.next
    if (cursor === undefined) break
  }
  t.equal(seen.length, names.length, 'every topic once')
  t.same(seen, names, 'in order')
  const defaults = await app.inject('/topics')
  t.equal(defaults.json().topics.length, 100, 'limit defaults to 100')
})

t.test('bad queries answer 400', async (t) => {
  const app = await build(t)
  const rows: Array<[string, string]> = [
    ['/topics?limit=0', 'FST_ERR_VALIDATION'], ['/topics?limit=1001', 'FST_ERR_VALIDATION'], ['/topics?limit=x', 'FST_ERR_VALIDATION'],
    ['/topics?cursor=%25%25', 'PUBSUB_ERR_BAD_CURSOR'], ['/topics?cursor=Li4', 'PUBSUB_ERR_BAD_CURSOR']
  ]
  for (const [url, code] of rows) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 400, url)
    t.match(res.json(), { statusCode: 400, code, message: String })
  }
})

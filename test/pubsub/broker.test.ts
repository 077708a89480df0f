import t from 'tap'
import { Broker } from '../../src/pubsub/broker.js'

t.test('in-process subscribe: callback gets the message; unsubscribe stops it', async (t) => {
  const broker = new Broker()
  t.teardown(() => broker.close())
  const got: Array<[string, unknown, number, string | undefined]> = []
  const off = await broker.subscribe('orders.*', (m, via) => { got.push([m.topic, m.data, m.seq, via]) })
  t.match(await broker.publish('orders.created', { id: 1 }), { topic: 'orders.created', seq: 1, delivered: 1 })
  await off()
  t.match(await broker.publish('orders.created', { id: 2 }), { delivered: 0 })
  t.same(got, [['orders.created', { id: 1 }, 1, 'orders.*']])
})

t.test('a callback that throws or rejects is logged and does not break delivery to others', async (t) => {
  const errors: string[] = []
  const broker = new Broker({}, { logger: { error: (obj, msg) => { errors.push(`${msg}: ${(obj as { err: Error }).err.message}`) } } })
  t.teardown(() => broker.close())
  const got: unknown[] = []
  await broker.subscribe('t', () => { throw new Error('boom') })
  await broker.subscribe('t', async () => { throw new Error('async boom') })
  await broker.subscribe('t', (m) => { got.push(m.data) })
  t.match(await broker.publish('t', 'x'), { delivered: 3 })
  t.match(await broker.publish('t', 'y'), { delivered: 3 })
  t.same(got, ['x', 'y'])
  await new Promise((resolve) => setImmediate(resolve))
  t.same(errors.sort(), ['pubsub subscriber rejected: async boom', 'pubsub subscriber rejected: async boom', 'pubsub subscriber threw: boom', 'pubsub subscriber threw: boom'])
})

t.test('data reaches in-process subscribers as JSON, like WebSocket clients', async (t) => {
  const broker = new Broker()
  t.teardown(() => broker.close())
  const got: unknown[] = []
  await broker.subscribe('t', (m) => { got.push(m.data) })
  await broker.publish('t', { when: new Date(0), skip: undefined, n: 1 })
  t.same(got, [{ when: '1970-01-01T00:00:00.000Z', n: 1 }])
})

t.test('bad publishes and subscribes reject with stable codes', async (t) => {
  const broker = new Broker()
  t.teardown(() => broker.close())
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  await t.rejects(broker.publish('a.*', 1), { code: 'PUBSUB_ERR_INVALID_TOPIC', statusCode: 400 })
  await t.rejects(broker.publish(42 as unknown as string, 1), { code: 'PUBSUB_ERR_INVALID_TOPIC' })
  await t.rejects(broker.publish('a', undefined), { code: 'PUBSUB_ERR_BAD_REQUEST' })
  await t.rejects(broker.publish('a', () => 1), { code: 'PUBSUB_ERR_BAD_REQUEST' })
  await t.rejects(broker.publish('a', cyclic), { code: 'PUBSUB_ERR_BAD_REQUEST' })
  await t.rejects(broker.publish('a', 10n), { code: 'PUBSUB_ERR_BAD_REQUEST' })
  await t.rejects(broker.subscribe('a..b', () => {}), { code: 'PUBSUB_ERR_INVALID_TOPIC' })
  await t.rejects(broker.topic('a.*'), { code: 'PUBSUB_ERR_INVALID_TOPIC' })
  const session = broker.connect({ deliver () {} })
  await t.rejects(session.unsubscribe(''), { code: 'PUBSUB_ERR_INVALID_TOPIC' })
  t.throws(() => new Broker({ maxSubscriptions: -1 }), { code: 'PUBSUB_ERR_OPTION' })
})

t.test('maxSubscriptions caps one session, re-subscribing does not count twice', async (t) => {
  const broker = new Broker({ maxSubscriptions: 2 })
  t.teardown(() => broker.close())
  const session = broker.connect({ deliver () {} })
  await session.subscribe('a')
  await session.subscribe('b.*')
  await session.subscribe('a')
  await t.rejects(session.subscribe('c'), { code: 'PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS' })
  await session.unsubscribe('a')
  await session.subscribe('c')
  t.same([...session.subscriptions].sort(), ['b.*', 'c'])
})

t.test('topics(): limit is capped at 1,000 and checked', async (t) => {
  const broker = new Broker({ maxSubscriptions: 2000 })
  t.teardown(() => broker.close())
  const session = broker.connect({ deliver () {} })
  for (let i = 0; i < 1500; i++) await session.subscribe(`t${i}`)
  const page = await broker.topics({ limit: 5000 })
  t.equal(page.topics.length, 1000)
  t.type(page.next, 'string')
  for (const limit of [0, -1, 1.5, Number.NaN]) await t.rejects(broker.topics({ limit }), { code: 'PUBSUB_ERR_BAD_REQUEST' }, `limit ${limit}`)
})

t.test('a handler that publishes does not reorder or duplicate deliveries', async (t) => {
  const broker = new Broker()
  t.teardown(() => broker.close())
  const seen: Record<string, string[]> = { a: [], b: [], both: [] }
  await broker.subscribe('t', async (m) => {
    seen.a?.push(`${m.topic}#${m.seq}`)
    if (m.seq === 1) await broker.publish('t', 'echo')
  })
  await broker.subscribe('t', (m) => { seen.b?.push(`${m.topic}#${m.seq}`) })
  const both = broker.connect({ deliver (m, via) { seen.both?.push(`${m.topic}#${m.seq}${via === undefined ? '' : ` via ${via}`}`) } })
  await both.subscribe('t')
  await both.subscribe('*')
  await broker.publish('t', 'first')
  await broker.publish('u', 'other')
  // The echo is published from a handler, a microtask later: wait for it.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen.a, ['t#1', 't#2'])
  t.same(seen.b, ['t#1', 't#2'], 'in seq order')
  t.same(seen.both, ['t#1', 't#2', 'u#1 via *'], 'once each, the echo right after its cause')
})

t.test('maxPatternTokens: a wildcard pattern with more tokens is INVALID_TOPIC; exact topics are not limited', async (t) => {
  const broker = new Broker()
  t.teardown(() => broker.close())
  const session = broker.connect({ deliver () {} })
  // Issue 14's shape: 255 bytes, 128 tokens; each such subscription used to cost ~27 KB.
  const long = [...Array.from({ length: 127 }, () => 'a'), '*'].join('.')
  await t.rejects(session.subscribe(long), { code: 'PUBSUB_ERR_INVALID_TOPIC', message: /\(a pattern has at most 8 tokens\)$/ })
  await t.rejects(session.subscribe('a.b.c.d.e.f.g.h.>'), { code: 'PUBSUB_ERR_INVALID_TOPIC' }, 'nine tokens')
  await session.subscribe('a.b.c.d.e.f.g.>')
  await session.subscribe(long.slice(0, -1) + 'b')
  t.same([...session.subscriptions].map((key) => key.split('.').length), [8, 128])
  const narrow = new Broker({ maxPatternTokens: 1 })
  t.teardown(() => narrow.close())
  await narrow.subscribe('>', () => {})
  await t.rejects(narrow.subscribe('a.*', () => {}), { code: 'PUBSUB_ERR_INVALID_TOPIC', message: "Invalid topic 'a.*' (a pattern has at most 1 tokens)" })
  t.throws(() => new Broker({ maxPatternTokens: 129 }), { code: 'PUBSUB_ERR_OPTION' })
})

t.test('maxSubscriptionBytes caps the summed length of a session\'s subscriptions', async (t) => {
  const broker = new Broker({ maxSubscriptionBytes: 10 })
  t.teardown(() => broker.close())
  const session = broker.connect({ deliver () {} })
  await session.subscribe('aaaa')
  await session.subscribe('bbbb.*')
  await session.subscribe('aaaa')
  await t.rejects(session.subscribe('c'), { code: 'PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS', message: 'At most 10 bytes of topics and patterns per connection' })
  await session.unsubscribe('aaaa')
  await session.unsubscribe('aaaa')
  await session.subscribe('cccc')
  t.same([...session.subscriptions].sort(), ['bbbb.*', 'cccc'])
  t.throws(() => new Broker({ maxSubscriptionBytes: 0 }), { code: 'PUBSUB_ERR_OPTION' })
})

t.test('the defaults refuse what crashed issue 14: 1,000 patterns of 255 bytes stop at 64 KiB', async (t) => {
  const broker = new Broker()
  t.teardown(() => broker.close())
  const session = broker.connect({ deliver () {} })
  const pattern = (i: number): string => `${String(i).padStart(249, 'p')}.x.y.*`
  let refused: unknown
  let held = 0
  for (let i = 0; i < 1000 && refused === undefined; i++) {
    try {
      await session.subscribe(pattern(i))
      held++
    } catch (err) {
      refused = err
    }
  }
  t.equal(pattern(0).length, 255)
  t.equal(held, Math.floor(64 * 1024 / 255))
  t.match(refused, { code: 'PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS', message: 'At most 65536 bytes of topics and patterns per connection' })
  // In-process subscribers get the same limits.
  await t.rejects(broker.subscribe(pattern(0).replace('.x.y.*', '.*.*.*.*.*.*.*.*'), () => {}), { code: 'PUBSUB_ERR_INVALID_TOPIC' })
})

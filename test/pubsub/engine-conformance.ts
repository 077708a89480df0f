// The behaviour every engine owes the broker, as one module that each engine's
// test file runs (like mqemitter's abstractTest.js). Everything goes through
// the public Broker, and waits for deliveries, so network engines pass too.
import type { Test } from 'tap'
import { Broker, type BrokerSession } from '../../src/pubsub/broker.js'
import type { Engine, PublishResult } from '../../src/pubsub/engine.js'
import type { Message } from '../../src/pubsub/message.js'
import { matches } from '../../src/pubsub/topic.js'
import { WAIT_MS } from '../helper.js'

export interface ConformanceOptions {
  /** A fresh engine; the suite closes it. */
  makeEngine: () => Engine | Promise<Engine>
  /** Whether `delivered` counts the sessions reached (an in-memory engine knows). */
  countsDeliveries: boolean
}

interface Delivery { topic: string, seq: number, epoch: string, data: unknown, subscription: string | undefined }

/** A session that records what it receives and lets a test wait for it. */
class Recorder {
  readonly deliveries: Delivery[] = []
  readonly session: BrokerSession
  #wake: (() => void) | undefined

  constructor (broker: Broker) {
    this.session = broker.connect({
      deliver: (message: Message, subscription: string | undefined) => {
        const { topic, seq, epoch, data } = message
        this.deliveries.push({ topic, seq, epoch, data, subscription })
        this.#wake?.()
      }
    })
  }

  /** Waits until `n` deliveries arrived; fails after WAIT_MS. */
  async until (n: number): Promise<Delivery[]> {
    const deadline = Date.now() + WAIT_MS
    while (this.deliveries.length < n) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`expected ${n} deliveries, got ${this.deliveries.length}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => { clearTimeout(timer); resolve() }
      })
    }
    return this.deliveries
  }
}

export function engineConformance (t: Test, options: ConformanceOptions): void {
  async function setup (t: Test): Promise<Broker> {
    const broker = new Broker({}, { engine: await options.makeEngine() })
    t.teardown(() => broker.close())
    return broker
  }

  t.test('every subscriber of a topic gets every message, in seq order', async (t) => {
    const broker = await setup(t)
    const recorders = [new Recorder(broker), new Recorder(broker), new Recorder(broker)]
    for (const r of recorders) t.match(await r.session.subscribe('room.1'), { topic: 'room.1', seq: 0, epoch: String })
    const results: PublishResult[] = []
    for (let i = 0; i < 100; i++) results.push(await broker.publish('room.1', { i }))
    t.same(results.map((r) => r.seq), Array.from({ length: 100 }, (_, i) => i + 1), 'seq 1..100 without gaps')
    if (options.countsDeliveries) t.ok(results.every((r) => r.delivered === 3), 'delivered counts the subscribers')
    for (const r of recorders) {
      const got = await r.until(100)
      t.same(got.map((d) => d.seq), results.map((r) => r.seq), 'in seq order')
      t.same(got.map((d) => d.data), results.map((_, i) => ({ i })), 'with the data')
      t.ok(got.every((d) => d.epoch === results[0]?.epoch && d.subscription === undefined))
    }
  })

  t.test('each topic has its own sequence; the ack gives the latest', async (t) => {
    const broker = await setup(t)
    const r = new Recorder(broker)
    const a = await r.session.subscribe('a')
    await r.session.subscribe('b')
    await broker.publish('a', 1)
    await broker.publish('a', 2)
    t.match(await broker.publish('b', 3), { topic: 'b', seq: 1 })
    t.match(await r.session.subscribe('a'), { topic: 'a', seq: 2, epoch: a.epoch }, 'subscribing again: idempotent, latest seq')
    await r.until(3)
    t.equal(r.deliveries.filter((d) => d.topic === 'a').length, 2, 'one delivery per message despite subscribing twice')
  })

  t.test('wildcards deliver exactly what matches() says, once per session', async (t) => {
    const broker = await setup(t)
    const patterns = ['>', '*', 'a', 'a.*', 'a.>', '*.b', 'a.b', 'a.*.c', '*.*.c', 'a.b.>', 'x.>', '*.*']
    const topics = ['a', 'b', 'a.b', 'a.c', 'c.b', 'a.b.c', 'a.x.c', 'x.y', 'x.y.z', 'a.b.c.d']
    const recorders = patterns.map((p) => ({ pattern: p, r: new Recorder(broker) }))
    for (const { pattern, r } of recorders) await r.session.subscribe(pattern)
    const combined = new Recorder(broker)
    for (const p of ['a.*', 'a.>', '>']) await combined.session.subscribe(p)
    for (const topic of topics) await broker.publish(topic, topic)
    // A sentinel every session matches marks the end of the stream.
    await broker.publish('zz.end', 'end')
    for (const { pattern, r } of recorders) {
      const expected = topics.filter((topic) => matches(pattern, topic))
      if (matches(pattern, 'zz.end')) expected.push('zz.end')
      const got = expected.length === 0 ? [] : await r.until(expected.length)
      t.same(got.map((d) => d.topic), expected, `pattern ${pattern}`)
      const exact = !pattern.includes('*') && !pattern.includes('>')
      t.ok(got.every((d) => d.subscription === (exact ? undefined : pattern)), `subscription names ${pattern}`)
    }
    const got = await combined.until(topics.length + 1)
    t.same(got.map((d) => d.topic), [...topics, 'zz.end'], 'overlapping patterns deliver once')
  })

  t.test('an exact subscription wins over a pattern; data and figures are as published', async (t) => {
    const broker = await setup(t)
    const r = new Recorder(broker)
    await r.session.subscribe('news.*')
    await r.session.subscribe('news.sports')
    const result = await broker.publish('news.sports', { score: '2-1', list: [1, null, 'x'] })
    if (options.countsDeliveries) t.equal(result.delivered, 1)
    const [d] = await r.until(1)
    t.same(d, { topic: 'news.sports', seq: 1, epoch: result.epoch, data: { score: '2-1', list: [1, null, 'x'] }, subscription: undefined })
  })

  t.test('unsubscribe stops delivery once it resolves; other subscriptions go on', async (t) => {
    const broker = await setup(t)
    const r = new Recorder(broker)
    await r.session.subscribe('t.1')
    await r.session.subscribe('t.*')
    await r.session.unsubscribe('t.1')
    await r.session.unsubscribe('t.1')
    await r.session.unsubscribe('never.subscribed')
    await broker.publish('t.1', 'through the pattern')
    await r.session.unsubscribe('t.*')
    await r.session.subscribe('t.2')
    await broker.publish('t.1', 'to nobody')
    await broker.publish('t.2', 'sentinel')
    const got = await r.until(2)
    t.same(got.map((d) => [d.data, d.subscription]), [['through the pattern', 't.*'], ['sentinel', undefined]])
    t.same([...r.session.subscriptions], ['t.2'])
  })

  t.test('closing a session removes all its subscriptions; nothing leaks', async (t) => {
    const broker = await setup(t)
    for (let i = 0; i < 1000; i++) {
      const r = new Recorder(broker)
      await r.session.subscribe(`leak.${i % 10}`)
      await r.session.subscribe('leak.*')
      r.session.close()
      r.session.close()
    }
    t.same(await broker.topics(), { topics: [], patterns: [] })
    const r = new Recorder(broker)
    await r.session.subscribe('leak.1')
    const result = await broker.publish('leak.1', 'x')
    if (options.countsDeliveries) t.equal(result.delivered, 1, 'only the live session')
    await r.until(1)
  })

  t.test('a session closed while its subscribe is in flight is not added', async (t) => {
    const broker = await setup(t)
    const r = new Recorder(broker)
    const pending = r.session.subscribe('late')
    r.session.close()
    await pending.catch(() => {})
    t.equal(await broker.topic('late'), undefined)
    await t.rejects(r.session.subscribe('late'), { code: 'PUBSUB_ERR_UNAVAILABLE' })
  })

  t.test('a topic keeps one sequence while published to, whoever subscribes', async (t) => {
    const broker = await setup(t)
    const r = new Recorder(broker)
    await r.session.subscribe('seq.*')
    const results = [await broker.publish('seq.a', 1), await broker.publish('seq.a', 2), await broker.publish('seq.a', 3)]
    t.same(results.map((x) => x.seq), [1, 2, 3], 'a pattern-only topic counts on')
    t.ok(results.every((x) => x.epoch === results[0]?.epoch), 'in one epoch')
    const got = await r.until(3)
    t.same(got.map((d) => d.seq), [1, 2, 3])
    const exact = new Recorder(broker)
    t.match(await exact.session.subscribe('seq.a'), { seq: 3, epoch: results[0]?.epoch }, 'an exact subscriber joins the same sequence')
    await exact.session.unsubscribe('seq.a')
    t.match(await broker.publish('seq.a', 4), { seq: 4, epoch: results[0]?.epoch }, 'and it goes on after it leaves')
    t.match(await broker.publish('seq.none', 1), { seq: 1 })
    t.match(await broker.publish('seq.none', 2), { seq: 2 }, 'also with no subscriber at all')
  })

  t.test('only topics with subscribers are listed or found', async (t) => {
    const broker = await setup(t)
    const r = new Recorder(broker)
    await broker.publish('quiet', 1)
    t.equal(await broker.topic('quiet'), undefined)
    await r.session.subscribe('quiet')
    t.match(await broker.topic('quiet'), { topic: 'quiet', subscribers: 1, seq: 1 })
    await r.session.unsubscribe('quiet')
    t.equal(await broker.topic('quiet'), undefined)
    t.same((await broker.topics()).topics, [])
  })

  t.test('topics(): sorted, with figures, filtered by prefix, paged without gaps or repeats', async (t) => {
    const broker = await setup(t)
    const a = new Recorder(broker)
    const b = new Recorder(broker)
    const names = ['b.2', 'a.1', 'b.1', 'c', 'a.2']
    for (const name of names) await a.session.subscribe(name)
    await b.session.subscribe('a.1')
    await b.session.subscribe('a.*')
    await b.session.subscribe('b.>')
    await broker.publish('a.1', 'x')
    const all = await broker.topics()
    t.same(all.topics.map((x) => [x.topic, x.subscribers, x.seq]), [['a.1', 2, 1], ['a.2', 1, 0], ['b.1', 1, 0], ['b.2', 1, 0], ['c', 1, 0]])
    t.same(all.patterns, [{ pattern: 'a.*', subscribers: 1 }, { pattern: 'b.>', subscribers: 1 }])
    t.equal(all.next, undefined)
    const onlyB = await broker.topics({ prefix: 'b.' })
    t.same([onlyB.topics.map((x) => x.topic), onlyB.patterns.map((x) => x.pattern)], [['b.1', 'b.2'], ['b.>']])
    // Page through everything two entries at a time.
    const seen: string[] = []
    let after: string | undefined
    for (let pages = 0; pages < 10; pages++) {
      const page = await broker.topics({ limit: 2, after })
      seen.push(...page.topics.map((x) => x.topic), ...page.patterns.map((x) => x.pattern))
      if (page.next === undefined) break
      after = page.next
    }
    t.same(seen.sort(), ['a.*', 'a.1', 'a.2', 'b.1', 'b.2', 'b.>', 'c'])
  })

  t.test('the broker closes once; afterwards it refuses work', async (t) => {
    const broker = await setup(t)
    const r = new Recorder(broker)
    await r.session.subscribe('x')
    await broker.close()
    await broker.close()
    await t.rejects(broker.publish('x', 1), { code: 'PUBSUB_ERR_UNAVAILABLE' })
    await t.rejects(r.session.subscribe('y'), { code: 'PUBSUB_ERR_UNAVAILABLE' })
    t.throws(() => broker.connect({ deliver () {} }), { code: 'PUBSUB_ERR_UNAVAILABLE' })
    r.session.close()
  })
}

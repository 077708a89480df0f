import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Broker } from '../../src/pubsub/broker.js'
import { History } from '../../src/pubsub/history.js'
import { MemoryEngine } from '../../src/pubsub/memory-engine.js'

const entry = (seq: number, ts = seq): { seq: number, ts: number, json: string } => ({ seq, ts, json: String(seq) })

t.test('the ring keeps the last capacity messages, oldest first', async (t) => {
  const history = new History(3)
  t.equal(history.first, undefined)
  t.same(history.after(0), [])
  for (let seq = 1; seq <= 5; seq++) history.push(entry(seq))
  t.equal(history.size, 3)
  t.equal(history.first, 3)
  t.same(history.after(0).map((m) => m.seq), [3, 4, 5])
  t.same(history.after(3).map((m) => m.seq), [4, 5])
  t.same(history.after(4, 1).map((m) => m.seq), [5])
  t.same(history.after(5), [])
  t.equal(history.bytes, 3, 'the JSON of the three retained')
})

t.test('expiry drops the oldest; an emptied ring starts over', async (t) => {
  const history = new History(4)
  for (let seq = 1; seq <= 6; seq++) history.push(entry(seq, seq * 10))
  history.expire(45)
  t.same(history.after(0).map((m) => m.seq), [5, 6])
  history.push(entry(7, 70))
  history.push(entry(8, 80))
  history.push(entry(9, 90))
  t.same(history.after(0).map((m) => m.seq), [6, 7, 8, 9], 'wraps around after an expiry')
  history.expire(1000)
  t.equal(history.size, 0)
  t.equal(history.bytes, 0)
  history.push(entry(10, 1000))
  t.same(history.after(0).map((m) => m.seq), [10])
  const growing = new History(5)
  growing.push(entry(1))
  growing.push(entry(2))
  growing.expire(2)
  growing.push(entry(3))
  t.same(growing.after(0).map((m) => m.seq), [2, 3], 'expiry while the ring is still growing')
})

t.test('10,000 topics x 100 retained messages: memory stays within the computed figure', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const broker = new Broker({}, { engine: new MemoryEngine() })
  t.teardown(() => broker.close())
  gc()
  const before = process.memoryUsage().heapUsed
  const topics = 10_000
  const size = 100
  for (let topic = 0; topic < topics; topic++) {
    for (let i = 0; i < size; i++) await broker.publish(`topic.${topic}`, { n: i, text: 'hello world' })
  }
  gc()
  const grown = process.memoryUsage().heapUsed - before
  const messages = topics * size
  const json = broker.historyBytes()
  t.equal(json, messages * '{"n":00,"text":"hello world"}'.length - topics * 10, 'historyBytes counts the JSON retained')
  const perMessage = grown / messages
  t.comment(`${(grown / 2 ** 20).toFixed(0)} MiB for ${messages} messages: ${perMessage.toFixed(0)} bytes each, ${(json / messages).toFixed(0)} of them JSON`)
  // Per message: its JSON as a string (~16 bytes of header), a {seq, ts, json}
  // record (~40), a ring slot (8), plus each topic's own state. 200 bytes over
  // the JSON leaves room for the engine's version, never for a leak (a second
  // copy of the frame alone would add the JSON again and ~100 bytes).
  t.ok(perMessage < json / messages + 200, `${perMessage.toFixed(0)} bytes per retained message`)
  t.equal((await broker.history('topic.9999'))?.messages.length, size, 'the last topic holds its 100')
  await broker.publish('topic.0', 'one more')
  t.equal((await broker.history('topic.0'))?.first, 2, 'a full ring drops its oldest')
})

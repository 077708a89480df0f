import t from 'tap'
import { Broker } from '../../src/pubsub/broker.js'
import { MemoryEngine } from '../../src/pubsub/memory-engine.js'
import { engineConformance } from '../../src/pubsub/conformance.js'
import { eventually } from '../helper.js'

engineConformance({ builder: (settings) => new MemoryEngine(settings), test: t })

/** Resolves once `topic` has started a new sequence (its epoch is no longer `epoch`). */
async function forgotten (broker: Broker, topic: string, epoch: string): Promise<void> {
  const session = broker.connect({ deliver () {} })
  await eventually(async () => {
    const ack = await session.subscribe(topic)
    await session.unsubscribe(topic)
    return ack.epoch !== epoch
  })
  session.close()
}

t.test('a topic with no exact subscriber is forgotten topicTtl after its last publish', async (t) => {
  const broker = new Broker({}, { engine: new MemoryEngine({ topicTtl: 50, historySize: 0 }) })
  t.teardown(() => broker.close())
  const first = await broker.publish('ttl', 1)
  t.match(await broker.publish('ttl', 2), { seq: 2, epoch: first.epoch })
  await forgotten(broker, 'ttl', first.epoch)
  const again = await broker.publish('ttl', 3)
  t.equal(again.seq, 1, 'a new sequence')
  t.not(again.epoch, first.epoch, 'under a new epoch')
})

t.test('a subscribed topic outlives the sweeps that forget others', async (t) => {
  const broker = new Broker({}, { engine: new MemoryEngine({ topicTtl: 20, historySize: 0 }) })
  t.teardown(() => broker.close())
  const session = broker.connect({ deliver () {} })
  const ack = await session.subscribe('kept')
  await broker.publish('kept', 1)
  const other = await broker.publish('other', 1)
  await forgotten(broker, 'other', other.epoch)
  t.match(await broker.publish('kept', 2), { seq: 2, epoch: ack.epoch })
  t.throws(() => new MemoryEngine({ topicTtl: 0 }), { code: 'PUBSUB_ERR_OPTION' })
})

t.test('past maxTopics a new topic publishes under a one-off sequence, not kept', async (t) => {
  const broker = new Broker({}, { engine: new MemoryEngine({ maxTopics: 2 }) })
  t.teardown(() => broker.close())
  await broker.publish('one', 1)
  await broker.publish('two', 1)
  const first = await broker.publish('three', 1)
  const second = await broker.publish('three', 2)
  t.equal(second.seq, 1, 'not remembered')
  t.not(second.epoch, first.epoch, 'each under its own epoch')
  t.match(await broker.publish('one', 2), { seq: 2 }, 'known topics go on')
  t.throws(() => new MemoryEngine({ maxTopics: 0 }), { code: 'PUBSUB_ERR_OPTION' })
})

t.test('historyBytes sums the JSON retained; topics without history add nothing', async (t) => {
  const broker = new Broker({}, { engine: new MemoryEngine() })
  t.teardown(() => broker.close())
  await broker.connect({ deliver () {} }).subscribe('subscribed.only')
  t.equal(broker.historyBytes(), 0)
  await broker.publish('a', 'xy')
  await broker.publish('b', [1, 2])
  t.equal(broker.historyBytes(), '"xy"'.length + '[1,2]'.length)
  t.throws(() => new MemoryEngine({ historySize: -1 }), { code: 'PUBSUB_ERR_OPTION' })
  t.throws(() => new MemoryEngine({ historyTtl: 0 }), { code: 'PUBSUB_ERR_OPTION' })
})

t.test('a retained-only topic is forgotten once its last message expires (and topicTtl has passed)', async (t) => {
  const broker = new Broker({}, { engine: new MemoryEngine({ topicTtl: 20, historyTtl: 60 }) })
  t.teardown(() => broker.close())
  const first = await broker.publish('short', 1)
  await forgotten(broker, 'short', first.epoch)
  t.equal(await broker.topic('short'), undefined)
})

t.test('idempotency keys past maxIdempotencyKeys: the oldest is forgotten first', async (t) => {
  const broker = new Broker({}, { engine: new MemoryEngine({ maxIdempotencyKeys: 2 }) })
  t.teardown(() => broker.close())
  for (const key of ['k1', 'k2', 'k3']) await broker.publish('keys', key, { key })
  t.match(await broker.publish('keys', 'k3', { key: 'k3' }), { seq: 3, duplicate: true }, 'the newest is kept')
  t.match(await broker.publish('keys', 'k1', { key: 'k1' }), { seq: 4 }, 'the oldest was forgotten: published again')
  t.throws(() => new MemoryEngine({ maxIdempotencyKeys: 0 }), { code: 'PUBSUB_ERR_OPTION', message: /maxIdempotencyKeys/ })
  t.throws(() => new MemoryEngine({ idempotencyWindow: 0 }), { code: 'PUBSUB_ERR_OPTION', message: /idempotencyWindow/ })
})

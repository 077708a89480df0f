import t from 'tap'
import { Broker } from '../../src/pubsub/broker.js'
import { MemoryEngine } from '../../src/pubsub/memory-engine.js'

t.test('one node\'s presence is the broker\'s own subscriptions: counts and ids, nothing to tell', async (t) => {
  const engine = new MemoryEngine()
  const broker = new Broker({}, { engine })
  t.teardown(() => broker.close())
  const alice = broker.connect({ clientId: 'c-1', sub: 'alice', deliver () {} })
  const anonymous = broker.connect({ clientId: 'c-2', deliver () {} })
  await alice.subscribe('room')
  await anonymous.subscribe('room')
  await anonymous.subscribe('room.*')
  await broker.connect({ deliver () {} }).subscribe('room')
  t.same(await engine.presence.subscribers('room', 10), { count: 3, clients: ['alice', 'c-2'] }, 'a sub before a clientId; in-process subscribers have neither')
  t.same(await engine.presence.subscribers('room', 1), { count: 3, clients: ['alice'] })
  t.same(await engine.presence.subscribers('nobody', 10), { count: 0, clients: [] })
  t.match(await engine.presence.subscribers('room.*', 10), { count: 1 })
  anonymous.close()
  t.same(await engine.presence.subscribers('room', 10), { count: 2, clients: ['alice'] })
  t.same(await engine.presence.subscribers('room.*', 10), { count: 0, clients: [] })
})

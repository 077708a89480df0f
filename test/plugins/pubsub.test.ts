import Fastify from 'fastify'
import t from 'tap'
import pubsubPlugin from '../../src/plugins/pubsub.js'
import { Broker } from '../../src/pubsub/broker.js'
import { MemoryEngine } from '../../src/pubsub/memory-engine.js'
import { Clients } from '../../src/transport/clients.js'

t.test('decorates fastify.pubsub with a Broker that escapes encapsulation', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(pubsubPlugin, { maxSubscriptions: 5 })
  await app.ready()
  t.ok(app.pubsub instanceof Broker)
  t.equal(app.pubsub.options.maxSubscriptions, 5)
  t.ok(app.pubsubClients instanceof Clients, 'and fastify.pubsubClients with its clients, shared by its routes')
  t.equal(app.pubsubClients.size, 0)
})

t.test('the app closing closes the broker and its engine', async (t) => {
  const app = Fastify()
  const engine = new MemoryEngine()
  await app.register(pubsubPlugin, { engine })
  await app.ready()
  const got: unknown[] = []
  await app.pubsub.subscribe('a', (m) => { got.push(m.data) })
  await app.pubsub.publish('a', 1)
  await app.close()
  t.same(got, [1])
  t.ok(app.pubsub.closed)
  await t.rejects(app.pubsub.publish('a', 2), { code: 'PUBSUB_ERR_UNAVAILABLE', statusCode: 503 })
})

t.test('bad options fail at registration', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(pubsubPlugin, { maxSubscriptions: 0 }).ready() }, { code: 'PUBSUB_ERR_OPTION', message: /maxSubscriptions/ })
})

t.test('the decorator is typed', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // @ts-expect-error: `pubsub` is declared a Broker by declaration merging
  t.throws(() => app.decorate('pubsub', 42).decorate('pubsub', 43), { code: 'FST_ERR_DEC_ALREADY_PRESENT' })
})

// Checked by `tsc --noEmit` (npm test), never run: what a TypeScript user of
// the package writes must compile, and misuse must not.
import Fastify from 'fastify'
import * as pkg from '../../src/index.js'
import fastifyPubsub, { Broker, MemoryEngine, PUBSUB_ERR_OPTION, pubsubPlugin, resolveOptions, type Message, type NamespaceOptions, type PublishResult, type PubsubOptions, type RedisEngineConfig, type ResolvedOptions, type TopicPage } from '../../src/index.js'

export async function consumer (): Promise<void> {
  const app = Fastify()
  const options: PubsubOptions = { prefix: '/realtime', maxPayload: 1 << 16, maxSubscriptions: 100 }
  await app.register(fastifyPubsub, options)

  const result: PublishResult = await app.pubsub.publish('news.sports', { score: '2-1' })
  const seq: number = result.seq
  const off: () => Promise<void> = await app.pubsub.subscribe('news.*', (message: Message, subscription) => {
    const topic: string = message.topic
    const via: string | undefined = subscription
    return [topic, via, message.data, seq]
  })
  await off()
  const page: TopicPage = await app.pubsub.topics({ prefix: 'news.', limit: 10 })
  page.topics.map((t) => t.subscribers + t.seq)

  const standalone = new Broker({ maxSubscriptions: 10 })
  const session = standalone.connect({ deliver (message, subscription) { return [message.frame(subscription)] } })
  await session.subscribe('a.>')

  const redis: RedisEngineConfig = { type: 'redis', url: 'redis://127.0.0.1:6379', timeout: 500 }
  await Fastify().register(fastifyPubsub, { engine: redis, topicTtl: 60_000, rateLimit: { rate: 10, burst: 20 } })
  await Fastify().register(pubsubPlugin, { engine: new MemoryEngine({ historySize: 10 }) })
  const optionError: Error = new PUBSUB_ERR_OPTION('maxPayload', 0, 'an integer >= 1')
  const chat: NamespaceOptions = { historySize: 500, clientPublish: false, schema: { type: 'object' } }
  await Fastify().register(fastifyPubsub, { namespaces: { 'chat.>': chat, 'typing.>': { presence: false } } })
  await Fastify().register(fastifyPubsub, { namespaces: { 'prices.>': { conflate: true, historySize: 0 } } })
  // @ts-expect-error: a namespace option that does not exist
  await Fastify().register(fastifyPubsub, { namespaces: { 'chat.>': { debounce: 100 } } })
  const pattern: string | undefined = app.pubsub.namespace('chat.lobby')?.pattern
  void pattern

  // Resolved options have every default filled in, and are read-only.
  const resolved: ResolvedOptions = resolveOptions({ rateLimit: { rate: 10, burst: 20 } })
  const sustain: number | undefined = resolved.rateLimit === false ? undefined : resolved.rateLimit.sustain
  const limits: number = resolved.maxPayload + resolved.maxSubscriptions + (sustain ?? 0)
  // @ts-expect-error: resolved options are read-only
  resolved.maxPayload = limits
  // @ts-expect-error: and `prefix` is not among them
  void resolved.prefix

  // @ts-expect-error: the route plugins are internal (they take pre-resolved options)
  void pkg.wsRoute
  // @ts-expect-error: and so is the broker's subscription index
  void pkg.SubscriptionIndex
  void optionError

  // @ts-expect-error: options are typed
  await app.register(fastifyPubsub, { maxPayload: 'big' })
  // @ts-expect-error: publish needs a topic string
  await app.pubsub.publish(42, 'x')
}

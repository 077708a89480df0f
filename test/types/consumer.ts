// Checked by `tsc --noEmit` (npm test), never run: what a TypeScript user of
// the package writes must compile, and misuse must not.
import Fastify from 'fastify'
import fastifyPubsub, { Broker, type Message, type PublishResult, type PubsubOptions, type TopicPage } from '../../src/index.js'

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

  // @ts-expect-error: options are typed
  await app.register(fastifyPubsub, { maxPayload: 'big' })
  // @ts-expect-error: publish needs a topic string
  await app.pubsub.publish(42, 'x')
}

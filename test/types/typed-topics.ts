// Checked by `tsc --noEmit` (npm test), never run (tap runs *.test.ts only):
// a topic map types the SDK's and the in-process API's publish and
// subscribe; each @ts-expect-error must really be an error, or tsc fails.
import Fastify from 'fastify'
import Type, { type Static } from 'typebox'
import fastifyPubsub, { type Broker, type Message, type MessageOf, type TopicOf, type TypedBroker } from '../../src/index.js'
import { PubsubClient, type PubsubMessage } from '../../src/client/index.js'

// One source for the run-time check and the type.
const ChatSchema = Type.Object({ text: Type.String({ maxLength: 2000 }) }, { additionalProperties: false })
type ChatMessage = Static<typeof ChatSchema>

interface Price { price: number }

/** A closed map: no other topic exists. */
interface Topics {
  [topic: `chat.${string}`]: ChatMessage
  [topic: `user.${string}.inbox`]: { from: string }
  'prices.btc': Price
  'prices.eth': Price
}

/** A map with a catch-all: other topics pass, untyped. */
interface Open {
  [topic: string]: unknown
  'prices.btc': Price
}

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false
function assertType<T extends true> (): T | undefined { return undefined }

// The helper types.
assertType<Equal<MessageOf<Topics, 'chat.room-1'>, ChatMessage>>()
assertType<Equal<MessageOf<Topics, 'user.7.inbox'>, { from: string }>>()
assertType<Equal<MessageOf<Topics, 'prices.btc'>, Price>>()
assertType<Equal<MessageOf<Topics, 'news.sports'>, never>>()
assertType<Equal<MessageOf<Record<string, unknown>, 'news.sports'>, unknown>>()
assertType<Equal<TopicOf<Record<string, unknown>>, string>>()
const chatTopic: TopicOf<Topics> = 'chat.lobby'
// @ts-expect-error: not a topic of the map
const newsTopic: TopicOf<Topics> = 'news.sports'
void [chatTopic, newsTopic]

export async function sdk (room: string): Promise<void> {
  const client = new PubsubClient<Topics>({ url: 'ws://localhost:8080/ws' })
  await client.publish('chat.room-1', { text: 'hello' })
  await client.publish(`chat.${room}`, { text: 'hello' }, { key: 'k1' })
  await client.publish('prices.btc', { price: 97_000 })
  await client.publish(`user.${room}.inbox`, { from: 'ann' })
  // @ts-expect-error: the schema says a string
  await client.publish('chat.room-1', { text: 1 })
  // @ts-expect-error: a property the schema does not have
  await client.publish('chat.room-1', { text: 'hi', extra: true })
  // @ts-expect-error: a chat message on a price topic
  await client.publish('prices.btc', { text: 'hello' })
  // @ts-expect-error: a topic the map does not have
  await client.publish('news.sports', { score: '2-1' })
  // @ts-expect-error: nor does a topic of unknown shape
  await client.publish(room, { text: 'hello' })

  client.subscribe('chat.lobby', (message) => {
    const text: string = message.data.text
    const topic: string = message.topic
    void [text, topic]
  })
  // A pattern one key covers gets that key's type.
  client.subscribe('chat.*', (message) => { const text: string = message.data.text; void text })
  client.subscribe('user.*.inbox', (message) => { const from: string = message.data.from; void from })
  // Any other pattern may match every topic of the map: the union of its types.
  client.subscribe('prices.*', (message) => {
    const data: ChatMessage | Price | { from: string } = message.data
    void data
    // @ts-expect-error: not every message matched has a price
    void message.data.price
  })
  client.subscribe('>', (message: PubsubMessage<ChatMessage | Price | { from: string }>) => { void message })
  // @ts-expect-error: a topic the map does not have
  client.subscribe('news.sports', () => {})
  // @ts-expect-error: a handler that expects another type
  client.subscribe('chat.lobby', (message: PubsubMessage<Price>) => { void message })
  // @ts-expect-error: a closed map takes no message type on trust
  client.subscribe<Price>('chat.lobby', () => {})

  // With a catch-all, other topics go through untyped; the map's keys stay checked.
  const open = new PubsubClient<Open>({ url: 'ws://localhost:8080/ws' })
  await open.publish('news.sports', { score: '2-1' })
  await open.publish('prices.btc', { price: 1 })
  // @ts-expect-error: a key of the map keeps its type
  await open.publish('prices.btc', { price: 'high' })
  open.subscribe('prices.btc', (message) => { const price: number = message.data.price; void price })
  open.subscribe('news.sports', (message) => { const data: unknown = message.data; void data })

  // Code for any client (close it, watch its events) takes PubsubClient<any>;
  // the default PubsubClient would let a typed client publish anything.
  const anyClient: PubsubClient<any> = client
  await anyClient.close()
  // @ts-expect-error: a typed client is not an untyped one
  const untypedClient: PubsubClient = client
  void untypedClient
}

export async function untyped (topic: string): Promise<void> {
  // No map: any topic, any message, as before.
  const client = new PubsubClient({ url: 'ws://localhost:8080/ws' })
  await client.publish(topic, { anything: [1, 'two'] })
  await client.publish('chat.lobby', 42)
  client.subscribe(topic, (message) => { const data: unknown = message.data; void data })
  client.subscribe<Price>('prices.*', (message) => { const price: number = message.data.price; void price })
  client.subscribe('prices.*', (message: PubsubMessage<Price>) => { void message.data.price })
  const plain: PubsubClient = client
  void plain
}

export async function inProcess (room: string): Promise<void> {
  const app = Fastify()
  await app.register(fastifyPubsub, {
    namespaces: {
      // The same TypeBox schema the type is derived from, spread into a plain object.
      'chat.>': { historySize: 500, schema: { ...ChatSchema } },
      'prices.>': { historySize: 1 }
    }
  })
  // A typed view of the same object: an annotation, no cast.
  const pubsub = app.pubsub as TypedBroker<Topics>
  await pubsub.publish(`chat.${room}`, { text: 'hello' })
  await pubsub.publish('prices.eth', { price: 3_500 }, { key: 'p1' })
  // @ts-expect-error: the schema says a string
  await pubsub.publish('chat.room-1', { text: 1 })
  // @ts-expect-error: a topic the map does not have
  await pubsub.publish('news.sports', { score: '2-1' })
  const off = await pubsub.subscribe('chat.*', (message, subscription) => {
    const text: string = message.data.text
    const seq: number = message.seq
    const via: string | undefined = subscription
    const frame: Buffer = message.frame(subscription)
    const plain: Message = message
    return [text, seq, via, frame, plain]
  })
  await off()
  await pubsub.subscribe('>', async (message) => { const data: ChatMessage | Price | { from: string } = message.data; void data })
  // @ts-expect-error: a handler that expects another type
  await pubsub.subscribe('prices.btc', (message: Message & { data: ChatMessage }) => message)
  // The rest of the broker is there as it is.
  const pattern: string | undefined = pubsub.namespace('chat.lobby')?.pattern
  void pattern
  await pubsub.topics({ prefix: 'chat.' })

  // The untyped broker still takes anything, and is a TypedBroker of the default map.
  const broker: Broker = app.pubsub
  await broker.publish(room, { anything: true })
  const any = app.pubsub as TypedBroker
  await any.publish(room, 42)
}

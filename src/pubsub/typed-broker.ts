// A typed view of a Broker for one app's topic map. `fastify.pubsub` is
// declared once, as Broker, for every app; an app narrows it with a type
// assertion (the same object, nothing at run time):
//   const pubsub = app.pubsub as TypedBroker<Topics>
// An annotation is not enough: TypeScript checks callback parameters one way
// only, and a Broker's handlers take any Message, not one typed `data`.
// docs/client.md, "Typed topics".
import type { Broker, PublishOptions } from './broker.js'
import type { PublishResult } from './engine.js'
import type { Message } from './message.js'
import type { AnyTopics, MessageOf, SubscribableOf, SubscribedMessageOf, TopicMap, TopicOf } from '../protocol/topic-map.js'

/** A message whose `data` is typed (the same Message object). */
export type TypedMessage<M> = Message & { readonly data: M }

/** An in-process subscriber's callback, for messages of type `M`. */
export type TypedMessageHandler<M> = (message: TypedMessage<M>, subscription: string | undefined) => unknown

/** The Broker, with `publish` and `subscribe` checked against `Topics`. */
export interface TypedBroker<Topics extends TopicMap = AnyTopics> extends Omit<Broker, 'publish' | 'subscribe'> {
  publish<T extends TopicOf<Topics>> (topic: T, data: MessageOf<Topics, T>, options?: PublishOptions): Promise<PublishResult>
  subscribe<P extends SubscribableOf<Topics>> (pattern: P, handler: TypedMessageHandler<SubscribedMessageOf<Topics, P>>): Promise<() => Promise<void>>
}

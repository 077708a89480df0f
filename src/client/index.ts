// fastify-pubsub/client: the SDK for browsers and Node. Nothing on this path imports from `node:`.
export { PubsubClient } from './client.js'
export type {
  ClientEvents, ClientOptions, ClientState, MessageHandler, PublishAck, PubsubMessage,
  RecoveryEvent, SubscribeAck, Subscription, TokenProvider, WebSocketConstructor, WebSocketLike
} from './types.js'
export { PubsubClientError } from './errors.js'
export type { AnyTopics, MessageOf, Pattern, SubscribableOf, SubscribedMessageOf, TopicMap, TopicOf } from '../protocol/topic-map.js'
export type { ClientErrorCode } from './errors.js'
export { defaultReconnect, reconnectDelay } from './backoff.js'
export type { ReconnectOptions } from './backoff.js'

// fastify-pubsub: `import fastifyPubsub from 'fastify-pubsub'`, then
// `app.register(fastifyPubsub, { prefix: '/realtime' })`. Also exported:
// the broker plugin alone, the Broker and its engines (also without
// Fastify, from 'fastify-pubsub/broker'), their types and the errors. The
// browser SDK is 'fastify-pubsub/client'. The route plugins are internal:
// they take options only resolveOptions makes.
export { default, default as fastifyPubsub } from './app.js'
export type { PubsubOptions, RedisClusterEngineConfig, RedisEngineConfig, ResolvedOptions } from './options.js'
export { resolveOptions } from './resolve-options.js'
export { default as pubsubPlugin, type PubsubPluginOptions } from './plugins/pubsub.js'
export type { AuthOptions } from './auth/authenticator.js'
export { redactToken, requestSerializer, type SerializedRequest } from './auth/log-redaction.js'
export type { PressureOptions } from './plugins/load-shedding.js'
export {
  type AnyTopics,
  Broker,
  type BrokerLogger,
  type BrokerObserver,
  type BrokerSession,
  type BrokerOptions,
  type Engine,
  type EngineLink,
  type FanoutObserver,
  type HistoryPage,
  type ListOptions,
  type LocalSubscriptions,
  MemoryEngine,
  type MemoryEngineOptions,
  Message,
  type MessageOf,
  type MessageHandler,
  type Namespace,
  type NamespaceOptions,
  type Namespaces,
  type Pattern,
  type PatternInfo,
  type Position,
  type Presence,
  type PublishResult,
  type Recovery,
  RedisClusterEngine,
  type RedisClusterEngineOptions,
  RedisEngine,
  type RedisEngineOptions,
  type Snapshot,
  type SubscribeResult,
  type Subscriber,
  type SubscribableOf,
  type SubscribedMessageOf,
  type TopicInfo,
  type TopicMap,
  type TopicOf,
  type TopicPage,
  type TopicQuery,
  type TypedBroker,
  type TypedMessage,
  type TypedMessageHandler,
  hasWildcard,
  isPattern,
  isTopic,
  matches,
  MAX_TOPIC_LENGTH
} from './pubsub/index.js'
// The whole table: every error a caller may meet, by its code.
export * from './protocol/errors.js'

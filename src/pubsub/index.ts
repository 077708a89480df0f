// The broker on its own, without Fastify, and what an engine implements.
export { Broker, type BrokerLogger, type BrokerObserver, type FanoutObserver, type ListOptions, type MessageHandler } from './broker.js'
export type {
  Engine, EngineLink, HistoryPage, LocalSubscriptions, PatternInfo, Presence, PublishResult, Recovery, Snapshot, TopicInfo, TopicPage, TopicQuery
} from './engine.js'
export * from '../protocol/errors.js'
export { MemoryEngine, type MemoryEngineOptions } from './memory-engine.js'
export { RedisEngine, type RedisEngineOptions } from './redis/engine.js'
export { RedisClusterEngine, type RedisClusterEngineOptions } from './redis/cluster-engine.js'
export { Message } from './message.js'
export type { Namespace, NamespaceOptions, Namespaces } from './namespaces.js'
export { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js'
export type { BrokerSession, Position, SubscribeResult, Subscriber } from './session.js'
export { hasWildcard, isPattern, isTopic, matches, MAX_TOPIC_LENGTH } from '../protocol/topic.js'
export type { TypedBroker, TypedMessage, TypedMessageHandler } from './typed-broker.js'
export type { AnyTopics, MessageOf, Pattern, SubscribableOf, SubscribedMessageOf, TopicMap, TopicOf } from '../protocol/topic-map.js'

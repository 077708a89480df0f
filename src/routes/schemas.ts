import { Type } from '@fastify/type-provider-typebox'

// Schemas shared by the REST routes: they validate, serialize fast, and feed
// an OpenAPI document.

// The topic is the rest of the path (`/publish/*`), not a `:topic` parameter:
// a topic is up to 256 bytes, and a host app's router may cap parameters at
// 100 (Fastify's default maxParamLength), which would answer 404.
export const TopicParams = Type.Object({
  '*': Type.String({ description: 'A concrete topic, e.g. news.sports' })
})

export const TopicInfo = Type.Object({
  topic: Type.String(),
  subscribers: Type.Integer({ description: 'Connections subscribed to exactly this topic' }),
  seq: Type.Integer({ description: 'The latest seq published to the topic' }),
  epoch: Type.String({ description: 'The sequence the seq belongs to' }),
  clients: Type.Optional(Type.Array(Type.String(), { description: 'Client ids of subscribers (presence), up to presenceLimit; GET /topics/:topic only, and absent where its namespace has presence: false' })),
  namespace: Type.Optional(Type.String({ description: "The pattern of the topic's namespace (namespaces.md); GET /topics/:topic only, absent when it is in none" }))
})

export const HistoryQuery = Type.Object({
  since: Type.Integer({ minimum: 0, default: 0, description: 'Only messages with a greater seq' }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 })
})

export const HistoryPage = Type.Object({
  topic: Type.String(),
  seq: Type.Integer({ description: 'The latest seq published to the topic' }),
  epoch: Type.String(),
  first: Type.Optional(Type.Integer({ description: 'The oldest retained seq; absent when nothing is retained. Messages after `since` are all here when first <= since + 1' })),
  messages: Type.Array(Type.Object({
    seq: Type.Integer(),
    epoch: Type.String(),
    ts: Type.Integer({ description: 'Server time of the publish, ms since the Unix epoch' }),
    data: Type.Unknown({ description: 'The published JSON value' })
  }))
})

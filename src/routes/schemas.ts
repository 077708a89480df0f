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
  epoch: Type.String({ description: 'The sequence the seq belongs to' })
})

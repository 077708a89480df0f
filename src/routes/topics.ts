import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Broker } from '../pubsub/broker.js'
import { PUBSUB_ERR_BAD_CURSOR, PUBSUB_ERR_TOPIC_NOT_FOUND } from '../pubsub/errors.js'
import { isPattern } from '../pubsub/topic.js'
import { TopicInfo, TopicParams } from './schemas.js'

/** `GET /topics` (paged, sorted by name) and `GET /topics/:topic`. */
const topicsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const broker = fastify.getDecorator<Broker>('pubsub')

  fastify.get('/topics', {
    schema: {
      summary: 'List topics and patterns with their figures',
      querystring: Type.Object({
        prefix: Type.Optional(Type.String({ maxLength: 256 })),
        limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        cursor: Type.Optional(Type.String({ maxLength: 400, description: 'The `next` of the previous page' }))
      }),
      response: {
        200: Type.Object({
          topics: Type.Array(TopicInfo),
          patterns: Type.Array(Type.Object({ pattern: Type.String(), subscribers: Type.Integer() })),
          next: Type.Optional(Type.String({ description: 'Present when truncated: the cursor of the next page' }))
        })
      }
    }
  }, async (request) => {
    const { prefix, limit, cursor } = request.query
    const page = await broker.topics({ prefix, limit, after: cursor === undefined ? undefined : decodeCursor(cursor) })
    return page.next === undefined ? page : { ...page, next: encodeCursor(page.next) }
  })

  fastify.get('/topics/*', {
    schema: {
      summary: "One topic's figures",
      params: TopicParams,
      response: { 200: TopicInfo }
    }
  }, async (request) => {
    const topic = request.params['*']
    const info = await broker.topic(topic)
    if (info === undefined) throw new PUBSUB_ERR_TOPIC_NOT_FOUND(topic)
    return info
  })
}

// Cursors are opaque to clients, so the listing can change how it pages.
function encodeCursor (name: string): string {
  return Buffer.from(name).toString('base64url')
}

function decodeCursor (cursor: string): string {
  const name = Buffer.from(cursor, 'base64url').toString()
  if (!isPattern(name)) throw new PUBSUB_ERR_BAD_CURSOR()
  return name
}

export default topicsRoute

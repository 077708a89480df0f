import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Broker } from '../pubsub/broker.js'
import { assertMaySubscribe } from '../auth/access.js'
import type { Authenticator } from '../auth/authenticator.js'
import { authenticate } from '../auth/http.js'
import { PUBSUB_ERR_BAD_CURSOR, PUBSUB_ERR_TOPIC_NOT_FOUND } from '../protocol/errors.js'
import { isPattern } from '../protocol/topic.js'
import { topicInPath } from './openapi.js'
import { HistoryPage, HistoryQuery, TopicInfo, TopicParams } from './schemas.js'

const HISTORY = '/history'

export interface TopicsRouteOptions {
  /** With auth on: any valid token lists topics; a history needs a subscribe grant for its topic. */
  authenticator?: Authenticator | undefined
}

/** `GET /topics` (paged, sorted by name) and `GET /topics/:topic`. */
const topicsRoute: FastifyPluginAsyncTypebox<TopicsRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const authenticator = opts.authenticator
  if (authenticator !== undefined) {
    // Listing needs any valid token; one topic (its presence: who is
    // subscribed) and its history need a subscribe grant for it.
    fastify.addHook('onRequest', async (request) => {
      const identity = authenticate(authenticator, request)
      const path = (request.params as { '*'?: string })['*']
      if (path === undefined) return
      const topic = path.endsWith(HISTORY) ? path.slice(0, -HISTORY.length) : path
      assertMaySubscribe(identity, topic, 'read')
    })
  }

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

  // One wildcard route for both, so that a long topic routes under any
  // maxParamLength (see schemas.ts): `/topics/news.sports` and `/topics/news.sports/history`.
  fastify.get('/topics/*', {
    config: { swaggerTransform: topicInPath() },
    schema: {
      summary: "One topic's figures with presence; with /history appended, its retained messages",
      description: '`GET /topics/{topic}` answers a TopicInfo; `GET /topics/{topic}/history?since=N&limit=K` answers the retained messages with seq > since, oldest first.',
      params: TopicParams,
      querystring: HistoryQuery,
      response: { 200: Type.Union([TopicInfo, HistoryPage]) }
    }
  }, async (request) => {
    const path = request.params['*']
    if (!path.endsWith(HISTORY)) {
      const info = await broker.topic(path)
      if (info === undefined) throw new PUBSUB_ERR_TOPIC_NOT_FOUND(path)
      return info
    }
    const topic = path.slice(0, -HISTORY.length)
    const page = await broker.history(topic, request.query)
    if (page === undefined) throw new PUBSUB_ERR_TOPIC_NOT_FOUND(topic)
    return {
      topic,
      seq: page.seq,
      epoch: page.epoch,
      first: page.first,
      messages: page.messages.map((message) => ({ seq: message.seq, epoch: message.epoch, ts: message.ts, data: message.data }))
    }
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

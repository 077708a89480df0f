import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyError } from 'fastify'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Broker } from '../pubsub/broker.js'
import { assertMayPublish } from '../auth/access.js'
import { isApiKey, type Authenticator } from '../auth/authenticator.js'
import { authenticate } from '../auth/http.js'
import { PUBSUB_ERR_BAD_REQUEST } from '../protocol/errors.js'
import type { Clients } from '../transport/clients.js'
import { topicInPath, PublishBody } from './openapi.js'
import { TopicParams } from './schemas.js'

/**
 * `POST /publish/:topic`: the body is the message, as `application/json` (any
 * JSON value) or `text/plain` (a string). Past the body limit it answers 413
 * naming the limit; other content types 415, listing these two.
 */
export interface PublishRouteOptions {
  /** Largest body, in bytes. */
  bodyLimit: number
  /** Requests per client address and time window (ms), or false for none. */
  restRateLimit: false | Readonly<{ max: number, timeWindow: number }>
  /** With auth on: a token whose grants cover the topic, or the API key. */
  authenticator?: Authenticator | undefined
}

/** What the body may be sent as: Fastify's own parsers, kept. */
const ACCEPTED_TYPES = ['application/json (any JSON value)', 'text/plain (the text is the message, a string)']

/**
 * Requests made with a client's token rather than the API key: a namespace
 * with clientPublish: false refuses them. With auth off, none is (REST is
 * then the application's own way in).
 */
const byClients = new WeakSet<object>()

const publishRoute: FastifyPluginAsyncTypebox<PublishRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const clients = fastify.getDecorator<Clients>('pubsubClients')
  fastify.addHook('onError', async (_request, _reply, error) => {
    clients.error(typeof error.code === 'string' ? error.code : 'UNKNOWN')
  })
  // Fastify's own 413 and 415 say neither the limit nor what to send: say
  // both, and leave the reply (shape, code, logging) to the parent handler,
  // which receives what an error handler throws.
  fastify.setErrorHandler((error: FastifyError) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      error.message = `the body is over ${opts.bodyLimit} bytes, the limit that bodyLimit (BODY_LIMIT) sets`
    } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      error.message = `unsupported Content-Type: send ${ACCEPTED_TYPES.join(' or ')}`
    }
    throw error
  })
  // Only this route's scope: the host app's other routes are not limited.
  if (opts.restRateLimit !== false) await fastify.register(fastifyRateLimit, { global: false })
  const authenticator = opts.authenticator

  fastify.post('/publish/*', {
    bodyLimit: opts.bodyLimit,
    config: {
      swaggerTransform: topicInPath(PublishBody),
      ...(opts.restRateLimit === false ? {} : { rateLimit: { ...opts.restRateLimit } })
    },
    schema: {
      summary: 'Publish a message to a topic',
      params: TopicParams,
      headers: Type.Object({
        'idempotency-key': Type.Optional(Type.String({ description: 'Publish at most once per key and topic within the idempotency window (1 to 64 characters): a repeat answers the first reply with duplicate: true' }))
      }),
      response: {
        200: Type.Object({
          topic: Type.String(),
          seq: Type.Integer(),
          epoch: Type.String(),
          delivered: Type.Integer({ description: 'Sessions on this node the message is handed to (subscribers on other nodes are not counted)' }),
          duplicate: Type.Optional(Type.Boolean({ description: 'The Idempotency-Key was used before: this is the first reply, nothing was published' }))
        })
      }
    },
    // Credentials before the body is read: a 401 or 403 costs no upload.
    onRequest: authenticator === undefined
      ? []
      : async (request) => {
        const identity = authenticate(authenticator, request)
        assertMayPublish(identity, (request.params as { '*': string })['*'])
        if (!isApiKey(identity)) byClients.add(request)
      }
  }, async (request) => {
    if (request.body === undefined) throw new PUBSUB_ERR_BAD_REQUEST('the body is the message: send one')
    return await broker.publish(request.params['*'], request.body, { key: request.headers['idempotency-key'], transport: 'http', client: authenticator !== undefined && byClients.has(request) })
  })
}

export default publishRoute

import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { nanoid } from 'nanoid'
import type { OutgoingHttpHeader } from 'node:http'
import type { ResolvedOptions } from '../options.js'
import { conflationPolicy } from '../transport/conflation.js'
import { FlushScheduler } from '../transport/flush-scheduler.js'
import type { Broker } from '../pubsub/broker.js'
import type { Recovery } from '../pubsub/engine.js'
import { clip, PUBSUB_ERR_BAD_REQUEST, PUBSUB_ERR_INVALID_TOPIC, PUBSUB_ERR_UNAVAILABLE, wireCode } from '../protocol/errors.js'
import { isPattern } from '../protocol/topic.js'
import { assertMaySubscribe, expiryTimer } from '../auth/access.js'
import type { Authenticator } from '../auth/authenticator.js'
import { authenticate } from '../auth/http.js'
import type { Clients } from '../transport/clients.js'
import { SseStream } from '../transport/sse-stream.js'
import { topicInPath } from './openapi.js'

export type SseRouteOptions = Pick<ResolvedOptions, 'maxBufferedBytes' | 'maxConnections' | 'pingInterval'> & {
  /** With auth on: a token (header or `?token=`) whose grants cover the topic. */
  authenticator?: Authenticator | undefined
}

/** `Last-Event-ID` as this server writes it: `<epoch>:<seq>`. */
const EVENT_ID = /^(.{1,128}):(\d{1,15})$/

/**
 * `GET /sse/:topic`: one topic or pattern as Server-Sent Events, for
 * `curl -N` and the browser's EventSource (Mercure's model: `Last-Event-ID`
 * resumes like subscribe's since/epoch). Streams count toward maxConnections
 * together with WebSockets.
 */
const sseRoute: FastifyPluginAsyncTypebox<SseRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const clients = fastify.getDecorator<Clients>('pubsubClients')
  const scheduler = new FlushScheduler()
  const conflation = conflationPolicy(broker, clients, true)
  const log = fastify.log

  fastify.get('/sse/*', {
    config: { swaggerTransform: topicInPath() },
    schema: {
      summary: 'Subscribe to a topic or pattern as Server-Sent Events',
      description: 'Events: `subscribed` first (clientId, seq, epoch, recovered), then `message` events whose data is the WebSocket message frame and whose id (topics only) is `epoch:seq`. Send `Last-Event-ID` (or `lastEventId`) to resume. A pattern goes URL-encoded: `/sse/news.%3E`.',
      params: Type.Object({ '*': Type.String({ description: 'A topic or pattern, URL-encoded' }) }),
      querystring: Type.Object({
        lastEventId: Type.Optional(Type.String({ description: 'Like the Last-Event-ID header, for the first connection' })),
        token: Type.Optional(Type.String({ description: 'With auth on, for clients that cannot send Authorization (EventSource)' }))
      }),
      produces: ['text/event-stream']
    }
  }, async (request, reply) => {
    const topic = request.params['*']
    if (!isPattern(topic)) throw new PUBSUB_ERR_INVALID_TOPIC(clip(topic, 300))
    const identity = opts.authenticator === undefined ? undefined : authenticate(opts.authenticator, request)
    assertMaySubscribe(identity, topic)
    // Node joins a repeated header into one string (only set-cookie is an array).
    const recovery = parseEventId(request.headers['last-event-id'] as string | undefined ?? request.query.lastEventId)
    if (clients.size >= opts.maxConnections) throw new PUBSUB_ERR_UNAVAILABLE(`connection limit reached (${opts.maxConnections})`)

    reply.hijack()
    const response = reply.raw
    // Headers set by the host app's hooks (CORS, say) go out too.
    for (const [name, value] of Object.entries(reply.getHeaders())) response.setHeader(name, value as OutgoingHttpHeader)
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // nginx would buffer the stream otherwise.
      'x-accel-buffering': 'no'
    })
    // HEAD (Fastify's automatic route for a GET runs this handler): what a
    // GET would answer, after the same checks, and no stream, which would
    // hold a subscription and a slot with no body to write to.
    if (request.method === 'HEAD') {
      response.end()
      return
    }
    response.write('retry: 1000\n\n')
    const clientId = nanoid()
    const openedAt = Date.now()
    const stream = new SseStream({ response, scheduler, broker, clients, clientId, log, maxBufferedBytes: opts.maxBufferedBytes, conflation })
    clients.add(stream)
    // Like a WebSocket, a stream ends when its token expires (EventSource
    // then reconnects with the token of its URL, and gets 401 if stale).
    const expiry = expiryTimer(identity, () => { stream.fail('FORBIDDEN', 'token expired') })
    response.on('close', function responseOnClose () {
      clearTimeout(expiry)
      clients.delete(stream)
      stream.onResponseClose()
      log.info({ clientId, durationMs: Date.now() - openedAt }, 'sse client disconnected')
    })
    log.info({ clientId, remoteAddress: request.ip, reqId: request.id, topic }, 'sse client connected')
    try {
      await stream.start(topic, recovery)
    } catch (err) {
      // The broker closing under us (UNAVAILABLE), or a bug of ours: logged.
      const code = wireCode(err as Error)
      if (code !== undefined) {
        stream.fail(code, (err as Error).message)
      } else {
        log.error({ err, clientId }, 'sse subscribe failed')
        stream.fail('UNAVAILABLE', 'internal error')
      }
    }
  })

  clients.heartbeatEvery(opts.pingInterval)

  // An open stream would hold server.close() forever: end them first (with
  // the WebSockets: one shutdown, whichever route's hook runs first).
  fastify.addHook('preClose', async () => {
    await clients.closeAll(1001, 'server shutting down')
  })
}

function parseEventId (id: string | undefined): Recovery | undefined {
  if (id === undefined) return undefined
  const match = EVENT_ID.exec(id)
  if (match === null) throw new PUBSUB_ERR_BAD_REQUEST('Last-Event-ID must be <epoch>:<seq>, as this server sent it')
  return { epoch: match[1] as string, since: Number(match[2]) }
}

export default sseRoute

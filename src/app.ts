import fastifyWebsocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { requestSerializer } from './auth/log-redaction.js'
import type { PubsubOptions } from './options.js'
import { closingFrameBytes } from './protocol/limits.js'
import { resolveOptions } from './resolve-options.js'
import { loadShedding } from './plugins/load-shedding.js'
import pubsubPlugin from './plugins/pubsub.js'
import { notFound } from './plugins/not-found.js'
import { quietUnavailable } from './plugins/quiet-unavailable.js'
import { refuseStrayUpgrades } from './plugins/stray-upgrades.js'
import asyncApiRoute from './routes/asyncapi.js'
import consoleRoute from './routes/console.js'
import docsRoute from './plugins/docs.js'
import healthRoute from './routes/health.js'
import metricsRoute from './routes/metrics/index.js'
import sseRoute from './routes/sse.js'
import publishRoute from './routes/publish.js'
import topicsRoute from './routes/topics.js'
import wsRoute from './routes/ws.js'
import { openFilesLimit, overLimit } from './transport/open-files.js'

/**
 * The whole service as one plugin: `fastify.pubsub`, `GET /ws`,
 * `POST /publish/:topic`, `GET /topics`, `GET /topics/:topic`, `GET /health`,
 * `GET /ready`, the docs (`GET /docs`, `GET /asyncapi.json`) and the web
 * console at `GET /`, all under `prefix`.
 *
 * @example
 * import fastifyPubsub from 'fastify-pubsub'
 * await app.register(fastifyPubsub, { prefix: '/realtime' })
 * await app.pubsub.publish('news.sports', { score: '2-1' })
 */
async function fastifyPubsub (fastify: FastifyInstance, opts: PubsubOptions): Promise<void> {
  const options = resolveOptions(opts)
  // Checked by resolveOptions, which leaves it out so that every route can take `options` whole.
  const prefix = opts.prefix ?? ''
  const over = overLimit(options.maxConnections, openFilesLimit())
  if (over !== undefined) {
    // Past the limit, accept() fails (EMFILE): clients are cut without a 503, and opening a file or a Redis connection fails too.
    fastify.log.warn({ maxConnections: options.maxConnections, ...over }, 'maxConnections is more than the open-files limit holds: raise ulimit -n, or lower maxConnections (docs/limits.md)')
  }
  // A host app's own @fastify/websocket keeps its maxPayload, and ours does not apply.
  const ownWebsocket = !fastify.hasDecorator('websocketServer')
  if (ownWebsocket) {
    await fastify.register(fastifyWebsocket, {
      // permessage-deflate stays off: it costs memory per connection and opens
      // the door to compression bombs.
      // UTF-8 is checked per frame by the route, which answers BAD_JSON
      // instead of closing with 1007.
      options: { maxPayload: closingFrameBytes(options.maxPayload), perMessageDeflate: false, skipUTF8Validation: true },
      // The default closes every client without a code (1005) before our
      // route's preClose can say 1001; leave the clients to the route.
      preClose (done) {
        this.websocketServer.close()
        done()
      }
    })
  }
  // The decorator escapes to the host app; the routes stay under the prefix.
  await fastify.register(pubsubPlugin, options)
  await fastify.register(async function routes (scope) {
    // First, so that its onRequest hook is on every route of the scope. A
    // host app with its own @fastify/under-pressure keeps that one.
    if (options.underPressure !== false && !scope.hasDecorator('isUnderPressure')) await loadShedding(scope, scope.pubsubClients, options.underPressure)
    // Before the routes, so that it sees them being added.
    refuseStrayUpgrades(scope)
    // Under a prefix the scope has a 404 of its own; at the root it is the host's.
    if (prefix !== '') scope.setNotFoundHandler(notFound)
    quietUnavailable(scope)
    if (options.docs) {
      await scope.register(docsRoute)
      await scope.register(asyncApiRoute, { historySize: options.historySize, historyTtl: options.historyTtl, namespaces: options.namespaces })
    }
    await scope.register(wsRoute, ownWebsocket ? options : { ...options, maxPayload: Number.POSITIVE_INFINITY })
    await scope.register(sseRoute, options)
    await scope.register(publishRoute, options)
    await scope.register(topicsRoute, options)
    await scope.register(healthRoute)
    if (options.metrics) await scope.register(metricsRoute, options)
    if (options.console) await scope.register(consoleRoute)
    // Browsers send their token in the query (?token=): whatever logger the
    // host app gave Fastify, the scope's `req` lines mask it. Fastify's type
    // wants serializers that return strings; pino takes objects.
  }, { prefix, logSerializers: { req: requestSerializer as unknown as (value: unknown) => string } })
}

export default fp(fastifyPubsub, { fastify: '5.x', name: 'fastify-pubsub' })

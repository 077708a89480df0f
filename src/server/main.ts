import Fastify, { type FastifyHttpOptions, type FastifyServerOptions } from 'fastify'
import cluster from 'node:cluster'
import type { Server } from 'node:http'
import fastifyPubsub from '../app.js'
import { runPrimary } from './cluster.js'
import { loadConfig, type Config } from './config.js'
import { listenErrorLine } from './listen-error.js'
import { loggingOptions } from './logger.js'
import { notFound } from '../plugins/not-found.js'

// The standalone server: `npm start`. Everything else is in the plugin.

let config: Config
let logging: FastifyServerOptions
try {
  config = loadConfig()
  logging = loggingOptions(config, process.stdout.isTTY === true)
} catch (err) {
  // Before the logger exists: one readable line naming the setting.
  process.stderr.write(`fastify-pubsub: ${(err as Error).message}\n`)
  process.exit(1)
}

if (config.workers > 1 && cluster.isPrimary) {
  runPrimary(config.workers, (line) => { process.stdout.write(`${JSON.stringify({ time: Date.now(), pid: process.pid, ...line })}\n`) })
} else {
  await serve(config, logging)
}

async function serve (config: Config, logging: FastifyServerOptions): Promise<void> {
  // With tlsCert and tlsKey, Fastify's own https server: wss:// on the same port.
  const app = Fastify({ ...logging, ...timeouts(config.requestTimeout), ...(config.tls === undefined ? {} : { https: config.tls }) })
  for (const warning of config.warnings) app.log.warn(warning)
  // The id of a request's log lines, for whoever reports a problem with it.
  // A callback hook: an async one costs every request a promise.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
  // Outside the prefix too (a mistyped path with ?token=), no token in a log line.
  app.setNotFoundHandler(notFound)

  let closing = false
  async function shutdown (signal: string): Promise<void> {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'closing')
    // Like fastify-cli's closeWithGrace: a close that hangs must not keep the process.
    const giveUp = setTimeout(() => {
      app.log.error({ closeTimeout: config.closeTimeout }, 'close did not finish in time: exiting')
      process.exit(1)
    }, config.closeTimeout)
    giveUp.unref()
    await app.close()
    clearTimeout(giveUp)
    // A worker's IPC channel to the primary would keep it alive.
    cluster.worker?.disconnect()
  }
  // `on`, not `once`: a terminal's Ctrl-C, or a stop under systemd, signals
  // the whole process group, and npm (or a cluster primary) passes the signal
  // on again. A second one left to Node's default would kill the drain.
  process.on('SIGINT', (signal) => { void shutdown(signal) })
  process.on('SIGTERM', (signal) => { void shutdown(signal) })

  try {
    // A worker of --workers: /metrics answers for all of them (the primary gathers).
    await app.register(fastifyPubsub, { ...config.pubsub, clusterMetrics: cluster.isWorker })
    await app.listen({ host: config.host, port: config.port })
    const { engine, auth, underPressure, metrics } = config.pubsub
    // What is on, in one line: an operator sees at once that auth is off.
    // "listening", not "ready": with Redis away it listens but refuses work
    // (the engine logs when Redis is reachable, and /ready says so). The
    // server's engine is a config, never an instance: 'redis' or 'redis-cluster'.
    app.log.info({ engine: engine === undefined ? 'memory' : (engine as { type: string }).type, engineConnected: app.pubsub.healthy, tls: config.tls !== undefined, auth: auth !== undefined, loadShedding: underPressure !== false, metrics }, 'fastify-pubsub listening')
  } catch (err) {
    const line = listenErrorLine(err, config.host, config.port)
    if (line === undefined) app.log.fatal({ err }, 'could not start')
    else process.stderr.write(`fastify-pubsub: ${line}\n`)
    process.exitCode = 1
    await app.close()
    // A worker's IPC channel to the primary would keep it alive.
    cluster.worker?.disconnect()
  }
}

/**
 * A request that trickles in (a body at a byte a second, headers that never
 * end) is cut after `requestTimeout` with 408: Fastify's default is none, and
 * Node's headersTimeout (60 s) is checked only every 30 s. Once a request has
 * arrived these timers stop, so open SSE streams and upgraded WebSockets are
 * not affected.
 */
function timeouts (requestTimeout: number): FastifyHttpOptions<Server> {
  return {
    requestTimeout,
    // Headers never get longer than the whole request; checked every second,
    // a slow client is reaped within a second past the limit.
    http: { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: 1000 }
  }
}

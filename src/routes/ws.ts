import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import { nanoid } from 'nanoid'
import type { ServerResponse } from 'node:http'
// Brings the `websocket: true` route option into Fastify's types.
import type {} from '@fastify/websocket'
import type { ResolvedOptions } from '../options.js'
import { FlushScheduler } from '../protocol/frame-writer.js'
import type { Broker } from '../pubsub/broker.js'
import { PUBSUB_ERR_FORBIDDEN, PUBSUB_ERR_UNAVAILABLE } from '../pubsub/errors.js'
import type { Authenticator, Identity } from '../auth/authenticator.js'
import { authenticate } from '../auth/http.js'
import { Connection } from './ws-connection.js'

export type WsRouteOptions = Pick<ResolvedOptions, 'maxBufferedBytes' | 'maxConnections' | 'pingInterval' | 'closeGrace' | 'allowedOrigins' | 'rateLimit'> & {
  /** With auth on: an upgrade without a valid token is refused with 401. */
  authenticator?: Authenticator | undefined
}

/**
 * `GET /ws`: the WebSocket protocol of shared/PROTOCOL.md. Needs the broker
 * plugin and @fastify/websocket registered before it.
 */
const wsRoute: FastifyPluginAsync<WsRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const connections = new Set<Connection>()
  const scheduler = new FlushScheduler()
  const log = fastify.log
  const anyOrigin = opts.allowedOrigins.includes('*')
  const origins = new Set(opts.allowedOrigins)

  // @fastify/websocket routes the upgrade through a ServerResponse attached to
  // the socket, which then keeps it (and the request behind it) for the
  // connection's lifetime. Detached right after the upgrade, they are
  // garbage: about 2.5 KB less per connection (as in ws#1104, which stopped
  // ws keeping the upgrade request).
  const responses = new WeakMap<FastifyRequest, ServerResponse>()
  const identities = new WeakMap<FastifyRequest, Identity>()

  /**
   * Refuses an upgrade before it happens: 503 when full, 403 for a foreign
   * Origin. (While closing, Fastify itself answers 503: return503OnClosing.)
   */
  // Upgrades admitted but not yet open count toward maxConnections, so that
  // a burst held up by a slow hook of the host app cannot pass it.
  let admitted = 0
  const release = (request: FastifyRequest): boolean => {
    if (!responses.delete(request)) return false
    admitted--
    return true
  }
  const admit: onRequestHookHandler = (request, reply, done) => {
    // broker.counters.connections: WebSockets and SSE streams share the limit.
    if (broker.counters.connections + admitted >= opts.maxConnections) {
      done(new PUBSUB_ERR_UNAVAILABLE(`connection limit reached (${opts.maxConnections})`))
      return
    }
    const origin = request.headers.origin
    // Cross-site WebSocket hijacking: browsers always send Origin; other clients need not.
    if (origin !== undefined && !anyOrigin && !origins.has(origin) && !sameHost(origin, request.headers.host)) {
      done(new PUBSUB_ERR_FORBIDDEN(`origin ${origin.slice(0, 100)} is not allowed`))
      return
    }
    if (opts.authenticator !== undefined) {
      // Refused here, as HTTP 401, rather than an open connection that fails later.
      try {
        identities.set(request, authenticate(opts.authenticator, request))
      } catch (err) {
        done(err as Error)
        return
      }
    }
    responses.set(request, reply.raw)
    admitted++
    done()
  }
  // Refused by a later hook (an HTTP answer instead of the upgrade), or abandoned.
  const refused = async (request: FastifyRequest): Promise<void> => { release(request) }

  fastify.get('/ws', { websocket: true, onRequest: admit, onResponse: refused, onRequestAbort: refused }, (socket, request) => {
    const response = responses.get(request)
    if (release(request)) response?.detachSocket(request.socket)
    const clientId = nanoid()
    const openedAt = Date.now()
    // The route's logger, not a child per connection, and nothing that keeps
    // `request` alive: a connection should cost little more than its socket.
    const connection = new Connection({
      ws: socket,
      // The upgraded TCP socket: frames are written to it directly (frame-writer.ts).
      socket: request.socket,
      scheduler,
      broker,
      clientId,
      log,
      maxBufferedBytes: opts.maxBufferedBytes,
      closeGrace: opts.closeGrace,
      rateLimit: opts.rateLimit,
      identity: identities.get(request),
      authenticator: opts.authenticator
    })
    connections.add(connection)
    broker.counters.connections++
    // Listeners go on synchronously: a frame sent right after the upgrade
    // would otherwise be lost.
    socket.on('message', function socketOnMessage (data, isBinary) {
      connection.receive(data as Buffer, isBinary)
    })
    socket.on('pong', function socketOnPong () {
      connection.pong()
    })
    socket.on('close', function socketOnClose (code) {
      connections.delete(connection)
      broker.counters.connections--
      connection.closed()
      log.info({ clientId, code, durationMs: Date.now() - openedAt }, 'client disconnected')
      if (connections.size === 0) drained?.()
    })
    // @fastify/websocket's error listener holds the request and reply for the
    // connection's lifetime; ours does the same job without them. A socket
    // error is the client's (a frame over maxPayload, a reset): ws has already
    // closed with the right code.
    socket.removeAllListeners('error')
    socket.on('error', function socketOnError (err) {
      log.info({ clientId, err }, 'websocket error')
      connection.failed()
    })
    log.info({ clientId, sub: connection.sub, remoteAddress: request.ip, reqId: request.id }, 'client connected')
  })

  const heartbeat = setInterval(() => {
    for (const connection of connections) connection.heartbeat()
  }, opts.pingInterval)
  heartbeat.unref()

  let drained: (() => void) | undefined
  // Graceful drain: no new connections, every queued frame written, then
  // 1001; a client that does not finish the close handshake within
  // closeGrace is terminated, so this ends in bounded time.
  fastify.addHook('preClose', async () => {
    clearInterval(heartbeat)
    // While closing, Fastify answers upgrades 503 before any hook runs, and
    // nothing then closes their sockets: a client that half-closes would
    // hold server.close() open.
    fastify.server.on('upgrade', function upgradeWhileClosing (_request, socket) {
      socket.once('end', () => socket.destroy())
    })
    if (connections.size === 0) return
    await new Promise<void>((resolve) => {
      drained = resolve
      for (const connection of connections) connection.close(1001, 'server shutting down')
    })
  })
}

function sameHost (origin: string, host: string | undefined): boolean {
  try {
    const url = new URL(origin)
    // A browser sends the serialized origin, nothing more.
    return url.origin === origin && url.host === host
  } catch {
    return false
  }
}

export default wsRoute

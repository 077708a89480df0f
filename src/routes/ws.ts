import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import { nanoid } from 'nanoid'
import type { ServerResponse } from 'node:http'
// Brings the `websocket: true` route option into Fastify's types.
import type {} from '@fastify/websocket'
import type { ResolvedOptions } from '../options.js'
import { conflationPolicy } from '../transport/conflation.js'
import { FlushScheduler } from '../transport/flush-scheduler.js'
import type { Broker } from '../pubsub/broker.js'
import { clip, PUBSUB_ERR_FORBIDDEN, PUBSUB_ERR_UNAVAILABLE } from '../protocol/errors.js'
import type { Authenticator, Identity } from '../auth/authenticator.js'
import { authenticate } from '../auth/http.js'
import { sameHost } from '../auth/origins.js'
import type { Clients } from '../transport/clients.js'
import { Connection } from '../transport/ws-connection.js'

export type WsRouteOptions = Pick<ResolvedOptions, 'maxBufferedBytes' | 'maxPayload' | 'maxConnections' | 'pingInterval' | 'closeGrace' | 'allowedOrigins' | 'rateLimit'> & {
  /** With auth on: an upgrade without a valid token is refused with 401. */
  authenticator?: Authenticator | undefined
}

/**
 * `GET /ws`: the WebSocket protocol of shared/PROTOCOL.md. Needs the broker
 * plugin and @fastify/websocket registered before it.
 */
const wsRoute: FastifyPluginAsync<WsRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const clients = fastify.getDecorator<Clients>('pubsubClients')
  const scheduler = new FlushScheduler()
  const conflation = conflationPolicy(broker, clients, false)
  const log = fastify.log
  const anyOrigin = opts.allowedOrigins.includes('*')
  const origins = new Set(opts.allowedOrigins)

  // @fastify/websocket routes the upgrade through a ServerResponse attached to
  // the socket, which then keeps it (and the request behind it) for the
  // connection's lifetime. Detached right after the upgrade, they are
  // garbage: about 2.5 KB less per connection (as in ws#1104, which stopped
  // ws keeping the upgrade request).
  const admissions = new WeakMap<FastifyRequest, Admission>()
  const identities = new WeakMap<FastifyRequest, Identity>()

  // Upgrades admitted but not yet open count toward maxConnections, so that
  // a burst held up by a slow hook of the host app cannot pass it.
  // Each slot is given back once: when the handler runs, on an HTTP answer,
  // or when the socket closes first. The last covers what no hook sees: ws
  // answering a malformed upgrade (bad Sec-WebSocket-Key or -Version) 400
  // itself, or destroying the socket of a client already gone, never calls
  // the handler; nor do onResponse or onRequestAbort run.
  let admitted = 0
  const release = (request: FastifyRequest): Admission | undefined => {
    const admission = admissions.get(request)
    if (admission === undefined) return undefined
    admissions.delete(request)
    // Its closure holds the request: left on, it would for the connection's lifetime.
    request.socket.off('close', admission.onClose)
    admitted--
    return admission
  }
  /**
   * Refuses an upgrade before it happens: 503 when full, 403 for a foreign
   * Origin. (While closing, Fastify itself answers 503: return503OnClosing.)
   */
  const admit: onRequestHookHandler = (request, reply, done) => {
    // WebSockets and SSE streams share the limit.
    if (clients.size + admitted >= opts.maxConnections) {
      done(new PUBSUB_ERR_UNAVAILABLE(`connection limit reached (${opts.maxConnections})`))
      return
    }
    const origin = request.headers.origin
    // Cross-site WebSocket hijacking: browsers always send Origin; other clients need not.
    if (origin !== undefined && !anyOrigin && !origins.has(origin) && !sameHost(origin, request.headers.host)) {
      done(new PUBSUB_ERR_FORBIDDEN(`origin ${clip(origin, 100)} is not allowed`))
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
    const onClose = (): void => { release(request) }
    request.socket.once('close', onClose)
    admissions.set(request, { response: reply.raw, onClose })
    admitted++
    done()
  }
  // Refused by a later hook: an HTTP answer instead of the upgrade (the
  // socket may stay open for the next request of a kept-alive connection).
  const refused = async (request: FastifyRequest): Promise<void> => { release(request) }

  fastify.get('/ws', { websocket: true, onRequest: admit, onResponse: refused }, (socket, request) => {
    release(request)?.response.detachSocket(request.socket)
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
      clients,
      clientId,
      log,
      maxBufferedBytes: opts.maxBufferedBytes,
      maxPayload: opts.maxPayload,
      closeGrace: opts.closeGrace,
      rateLimit: opts.rateLimit,
      identity: identities.get(request),
      authenticator: opts.authenticator,
      conflation
    })
    clients.add(connection)
    // Listeners go on synchronously: a frame sent right after the upgrade
    // would otherwise be lost.
    socket.on('message', function socketOnMessage (data, isBinary) {
      connection.receive(data as Buffer, isBinary)
    })
    socket.on('pong', function socketOnPong () {
      connection.pong()
    })
    socket.on('close', function socketOnClose (code) {
      clients.delete(connection)
      connection.onSocketClose()
      log.info({ clientId, code, durationMs: Date.now() - openedAt }, 'client disconnected')
    })
    // @fastify/websocket's error listener holds the request and reply for the
    // connection's lifetime; ours does the same job without them. A socket
    // error is the client's (a frame over twice maxPayload, a reset): ws has already
    // closed with the right code.
    socket.removeAllListeners('error')
    socket.on('error', function socketOnError (err) {
      log.info({ clientId, err }, 'websocket error')
      connection.onSocketError()
    })
    log.info({ clientId, sub: connection.sub, remoteAddress: request.ip, reqId: request.id }, 'client connected')
  })

  clients.heartbeatEvery(opts.pingInterval)

  // Graceful drain: no new connections, every queued frame written, then
  // 1001; a client that does not finish the close handshake within
  // closeGrace is terminated, so this ends in bounded time.
  fastify.addHook('preClose', async () => {
    // While closing, Fastify answers upgrades 503 before any hook runs, and
    // nothing then closes their sockets: a client that half-closes would
    // hold server.close() open.
    fastify.server.on('upgrade', function upgradeWhileClosing (_request, socket) {
      socket.once('end', () => socket.destroy())
    })
    await clients.closeAll(1001, 'server shutting down')
  })
}

/** A slot taken by an upgrade on its way: what gives it back. */
interface Admission {
  /** @fastify/websocket's response for the upgrade, detached once open. */
  response: ServerResponse
  /** The listener on the request's socket that releases the slot if it closes first. */
  onClose: () => void
}

export default wsRoute

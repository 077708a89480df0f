import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { ServerResponse } from 'node:http'
import { nanoid } from 'nanoid'
// Brings the `websocket: true` route option into Fastify's types.
import type {} from '@fastify/websocket'
import type { Broker } from '../pubsub/broker.js'
import { FlushScheduler } from '../protocol/frame-writer.js'
import { Connection } from './ws-connection.js'

export interface WsRouteOptions {
  /** Bytes queued for a client past which it is closed with 1013. */
  maxBufferedBytes: number
}

/**
 * `GET /ws`: the WebSocket protocol of shared/PROTOCOL.md. Needs the broker
 * plugin and @fastify/websocket registered before it.
 */
const wsRoute: FastifyPluginAsync<WsRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const connections = new Set<Connection>()
  const scheduler = new FlushScheduler()

  // @fastify/websocket routes the upgrade through a ServerResponse attached to
  // the socket, which then keeps it (and the request behind it) for the
  // connection's lifetime. Detached right after the upgrade, they are
  // garbage: about 2.5 KB less per connection (as in ws#1104, which stopped
  // ws keeping the upgrade request).
  const responses = new WeakMap<FastifyRequest, ServerResponse>()
  const rememberResponse: onRequestHookHandler = (request, reply, done) => {
    responses.set(request, reply.raw)
    done()
  }

  fastify.get('/ws', { websocket: true, onRequest: rememberResponse }, (socket, request) => {
    responses.get(request)?.detachSocket(request.socket)
    const clientId = nanoid()
    const openedAt = Date.now()
    // The route's logger, not a child per connection, and nothing that keeps
    // `request` alive: a connection should cost little more than its socket.
    const log = fastify.log
    const connection = new Connection({
      ws: socket,
      // The upgraded TCP socket: frames are written to it directly (frame-writer.ts).
      socket: request.socket,
      scheduler,
      broker,
      clientId,
      log,
      maxBufferedBytes: opts.maxBufferedBytes
    })
    connections.add(connection)
    // Listeners go on synchronously: a frame sent right after the upgrade
    // would otherwise be lost.
    socket.on('message', function socketOnMessage (data, isBinary) {
      connection.receive(data as Buffer, isBinary)
    })
    socket.on('close', function socketOnClose (code) {
      connections.delete(connection)
      connection.closed()
      log.info({ clientId, code, durationMs: Date.now() - openedAt }, 'client disconnected')
    })
    // @fastify/websocket's error listener holds the request and reply for the
    // connection's lifetime; ours does the same job without them. A socket
    // error is the client's (a frame over maxPayload, a reset): ws has already
    // closed with the right code.
    socket.removeAllListeners('error')
    socket.on('error', function socketOnError (err) {
      log.info({ clientId, err }, 'websocket error')
      socket.terminate()
    })
    log.info({ clientId, remoteAddress: request.ip }, 'client connected')
  })

  fastify.addHook('preClose', async () => {
    for (const connection of connections) connection.close(1001, 'server shutting down')
  })
}

export default wsRoute

import type { FastifyPluginAsync } from 'fastify'
import { nanoid } from 'nanoid'
import type { WebSocket } from 'ws'
// Brings the `websocket: true` route option into Fastify's types.
import type {} from '@fastify/websocket'
import type { Broker } from '../pubsub/broker.js'
import { Connection, type ConnectionOptions } from './ws-connection.js'

export type WsRouteOptions = ConnectionOptions

/**
 * `GET /ws`: the WebSocket protocol of shared/PROTOCOL.md. Needs the broker
 * plugin and @fastify/websocket registered before it.
 */
const wsRoute: FastifyPluginAsync<WsRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const options: ConnectionOptions = { maxBufferedBytes: opts.maxBufferedBytes }
  const sockets = new Set<WebSocket>()

  fastify.get('/ws', { websocket: true }, (socket, request) => {
    const clientId = nanoid()
    const log = request.log.child({ clientId })
    const connection = new Connection(socket, broker, clientId, log, options)
    sockets.add(socket)
    // Listeners go on synchronously: a frame sent right after the upgrade
    // would otherwise be lost.
    socket.on('message', function socketOnMessage (data, isBinary) {
      connection.receive(data as Buffer, isBinary)
    })
    socket.on('close', function socketOnClose (code) {
      sockets.delete(socket)
      connection.closed()
      log.info({ code }, 'client disconnected')
    })
    log.info({ remoteAddress: request.ip }, 'client connected')
  })

  fastify.addHook('preClose', async () => {
    for (const socket of sockets) socket.close(1001, 'server shutting down')
  })
}

export default wsRoute

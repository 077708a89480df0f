import type { FastifyPluginAsync } from 'fastify'
import { nanoid } from 'nanoid'
// Brings the `websocket: true` route option into Fastify's types.
import type {} from '@fastify/websocket'
import type { Broker } from '../pubsub/broker.js'
import { FlushScheduler } from '../protocol/frame-writer.js'
import { Connection, type ConnectionOptions } from './ws-connection.js'

export type WsRouteOptions = ConnectionOptions

/**
 * `GET /ws`: the WebSocket protocol of shared/PROTOCOL.md. Needs the broker
 * plugin and @fastify/websocket registered before it.
 */
const wsRoute: FastifyPluginAsync<WsRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const options: ConnectionOptions = { maxBufferedBytes: opts.maxBufferedBytes }
  const connections = new Set<Connection>()
  const scheduler = new FlushScheduler()

  fastify.get('/ws', { websocket: true }, (socket, request) => {
    const clientId = nanoid()
    const log = request.log.child({ clientId })
    // The upgraded TCP socket: frames are written to it directly (frame-writer.ts).
    const connection = new Connection(socket, request.socket, scheduler, broker, clientId, log, options)
    connections.add(connection)
    // Listeners go on synchronously: a frame sent right after the upgrade
    // would otherwise be lost.
    socket.on('message', function socketOnMessage (data, isBinary) {
      connection.receive(data as Buffer, isBinary)
    })
    socket.on('close', function socketOnClose (code) {
      connections.delete(connection)
      connection.closed()
      log.info({ code }, 'client disconnected')
    })
    log.info({ remoteAddress: request.ip }, 'client connected')
  })

  fastify.addHook('preClose', async () => {
    for (const connection of connections) connection.close(1001, 'server shutting down')
  })
}

export default wsRoute

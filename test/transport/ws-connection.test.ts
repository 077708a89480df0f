import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { Broker } from '../../src/pubsub/broker.js'
import { Clients } from '../../src/transport/clients.js'
import { FlushScheduler } from '../../src/transport/flush-scheduler.js'
import { Connection } from '../../src/transport/ws-connection.js'
import { Client } from '../helper.js'

const log = { info () {}, warn () {}, error () {} }

/** A Connection over a real socket, its client, and its broker. */
async function open (t: Test): Promise<{ connection: Connection, ws: WebSocket, client: Client, broker: Broker }> {
  const broker = new Broker()
  t.teardown(async () => { await broker.close() })
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  t.teardown(() => { for (const ws of server.clients) ws.terminate(); server.close() })
  await once(server, 'listening')
  const opened = once(server, 'connection')
  const client = new Client(new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`))
  const [ws, request] = await opened as [WebSocket, IncomingMessage]
  const connection = new Connection({ ws, socket: request.socket, scheduler: new FlushScheduler(), broker, clients: new Clients(), clientId: 'c1', log, maxBufferedBytes: 1 << 20, maxPayload: 1 << 20, closeGrace: 1000, rateLimit: false })
  ws.on('message', (data, isBinary) => { connection.receive(data as Buffer, isBinary) })
  ws.on('close', () => { connection.onSocketClose() })
  t.match(await client.next(), { type: 'welcome', clientId: 'c1' })
  return { connection, ws, client, broker }
}

t.test('close is safe to call three times: one close frame, the first code', async (t) => {
  const { connection, ws, client, broker } = await open(t)
  await client.subscribe('a')
  connection.close(1001, 'server shutting down')
  connection.close(1000, 'again')
  connection.close(1008, 'a third time')
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' }, 'the first close stands')
  await once(ws, 'close')
  connection.close(1001, 'after the socket closed')
  connection.onSocketClose()
  t.equal(broker.counts().subscriptions, 0, 'its subscription ended once')
})

t.test('requests queued before a close do not run: neither the subscribe nor the publish behind it', async (t) => {
  const { connection, client, broker } = await open(t)
  connection.receive(Buffer.from('{"action":"subscribe","topic":"a","id":1}'), false)
  connection.receive(Buffer.from('{"action":"publish","topic":"a","message":1,"id":2}'), false)
  connection.close(1000, 'bye')
  t.same(await client.closed, { code: 1000, reason: 'bye' })
  // Frames come before the close frame: any reply would be queued by now.
  await t.rejects(client.next(0), /no frame/, 'no reply went out')
  t.equal(broker.counts().subscriptions, 0)
  t.equal(broker.counters.published.ws, 0, 'nothing was published')
})

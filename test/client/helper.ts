// Helpers for the SDK tests: a client on `ws` closed at teardown, and a
// scripted WebSocket server for the replies a real fastify-pubsub never
// sends (silence, unreadable frames). Handlers feed helper.ts's Inbox.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { PubsubClient, type ClientOptions } from '../../src/client/index.js'

/** A client of `${base}/ws` (base as `listen` returns it), closed at teardown. */
export function sdk (t: Test, base: string, options: Partial<ClientOptions> = {}): PubsubClient {
  const client = new PubsubClient({ url: base.replace(/^http/, 'ws') + '/ws', WebSocket, ...options })
  t.teardown(() => client.close())
  return client
}

/**
 * A WebSocket server that greets like fastify-pubsub (`clientId` c1, c2, …)
 * and hands every request to `script`, which may answer or not.
 */
export async function scriptedServer (t: Test, script: (request: Record<string, any>, socket: WebSocket) => void): Promise<{ url: string, server: WebSocketServer, requests: Array<Record<string, any>> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of server.clients) socket.terminate()
    await new Promise((resolve) => server.close(resolve))
  })
  const requests: Array<Record<string, any>> = []
  let connections = 0
  server.on('connection', (socket) => {
    socket.send(JSON.stringify({ type: 'welcome', clientId: `c${++connections}` }))
    socket.on('message', (data) => {
      const request = JSON.parse(String(data))
      requests.push(request)
      script(request, socket)
    })
  })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, server, requests }
}

// Helpers for the SDK tests: a client on `ws` closed at teardown, and a
// scripted WebSocket server for the replies a real fastify-pubsub never
// sends (silence, unreadable frames), and a TCP proxy that cuts the network
// between a client and a real server. Handlers feed helper.ts's Inbox.
import { once } from 'node:events'
import { connect as connectTcp, createServer, type AddressInfo, type Socket } from 'node:net'
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

/**
 * A TCP proxy in front of `target` (a base URL as `listen` returns it):
 * `cut()` destroys every connection through it and refuses new ones, as a
 * network outage would, until `restore()`. The server keeps running, with
 * its history. `stall()` stops passing the server's bytes on, as a client
 * that stops reading (a frozen tab) would, until `flow()`.
 */
export async function cuttable (t: Test, target: string): Promise<{ url: string, cut: () => void, restore: () => void, stall: () => void, flow: () => void }> {
  const { hostname, port: targetPort, pathname } = new URL(target)
  const sockets = new Set<Socket>()
  const pairs = new Map<Socket, Socket>()
  let down = false
  const proxy = createServer((client) => {
    if (down) {
      client.destroy()
      return
    }
    const upstream = connectTcp(Number(targetPort), hostname)
    sockets.add(client).add(upstream)
    pairs.set(upstream, client)
    client.pipe(upstream).pipe(client)
    const end = (): void => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
      pairs.delete(upstream)
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  }).listen(0, '127.0.0.1')
  await once(proxy, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => proxy.close(resolve))
  })
  const { port } = proxy.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}${pathname === '/' ? '' : pathname}`,
    cut: () => {
      down = true
      for (const socket of sockets) socket.destroy()
    },
    restore: () => { down = false },
    stall: () => {
      for (const [upstream, client] of pairs) {
        upstream.unpipe(client)
        upstream.pause()
      }
    },
    flow: () => {
      for (const [upstream, client] of pairs) upstream.pipe(client)
    }
  }
}

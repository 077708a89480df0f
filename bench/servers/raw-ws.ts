// The naive ceiling of Node + ws: a Map of topic to Set of sockets, one
// JSON.stringify per publish, ws.send per subscriber, no publish acks. A
// subscribe is acknowledged (once, not per message) so that the load
// generator knows when subscriptions are live. Exact topics only.
import { WebSocketServer, type WebSocket } from 'ws'

const port = Number(process.env.PORT ?? 0)
const topics = new Map<string, Set<WebSocket>>()
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false })

wss.on('connection', (ws) => {
  const mine = new Set<string>()
  ws.on('message', (data) => {
    const request = JSON.parse(String(data)) as { action: string, topic: string, message?: unknown }
    if (request.action === 'subscribe') {
      let sockets = topics.get(request.topic)
      if (sockets === undefined) topics.set(request.topic, (sockets = new Set()))
      sockets.add(ws)
      mine.add(request.topic)
      ws.send('{"type":"ack","action":"subscribe"}')
    } else if (request.action === 'publish') {
      const sockets = topics.get(request.topic)
      if (sockets === undefined) return
      const frame = JSON.stringify({ type: 'message', topic: request.topic, data: request.message })
      for (const socket of sockets) socket.send(frame)
    }
  })
  ws.on('close', () => {
    for (const topic of mine) {
      const sockets = topics.get(topic)
      sockets?.delete(ws)
      if (sockets?.size === 0) topics.delete(topic)
    }
  })
})
wss.on('listening', () => {
  const address = wss.address() as { port: number }
  process.stdout.write(`listening ${address.port}\n`)
})

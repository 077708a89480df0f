// socket.io 4 with rooms as topics: the way most Node apps do pub/sub today.
import { createServer } from 'node:http'
import { Server } from 'socket.io'

const port = Number(process.env.PORT ?? 0)
const http = createServer()
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false })

io.on('connection', (socket) => {
  socket.on('subscribe', async (topic: string, ack: () => void) => {
    await socket.join(topic)
    ack()
  })
  socket.on('publish', (topic: string, data: unknown) => {
    io.to(topic).emit('message', topic, data)
  })
})
http.listen(port, '127.0.0.1', () => {
  const address = http.address() as { port: number }
  process.stdout.write(`listening ${address.port}\n`)
})

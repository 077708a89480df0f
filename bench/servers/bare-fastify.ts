// The ceiling for REST publish: a bare Fastify route that parses the same
// JSON body and answers, with nothing behind it.
import Fastify from 'fastify'

const port = Number(process.env.PORT ?? 0)
const app = Fastify({ routerOptions: { maxParamLength: 1024 } })
let seq = 0
app.post<{ Params: { topic: string } }>('/publish/:topic', async (request) => {
  return { topic: request.params.topic, seq: ++seq, delivered: request.body === undefined ? 0 : 0 }
})
const address = await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`listening ${new URL(address).port}\n`)

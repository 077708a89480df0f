// What a token's grants cost per request (issue 14):
//
//   npm run build && npx tsc -p tsconfig.bench.json
//   node --max-http-header-size=4000000 dist-bench/bench/grants-cost.js [grants] [maxGrants]
//
// One WebSocket client whose token carries `grants` publish grants sends 200
// publishes at once, to the topic of the last grant; another client pings
// meanwhile. Prints how long the 200 acks and the pong took. `maxGrants`
// raises the server's limit (auth.maxGrants) to measure past the default.
import Fastify from 'fastify'
import { createSigner } from 'fast-jwt'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import type { AuthOptions } from '../src/auth/authenticator.js'
import fastifyPubsub from '../src/app.js'

const grants = Number(process.argv[2] ?? 1000)
const maxGrants = Number(process.argv[3] ?? 1000)
const secret = 'grants-cost-secret-0123456789abcdef'
const publish = Array.from({ length: grants }, (_, i) => `room.${i}`)
const token = createSigner({ key: secret })({ sub: 'heavy', pubsub: { subscribe: [], publish } })
const light = createSigner({ key: secret })({ sub: 'light', pubsub: { subscribe: [], publish: [] } })

const app = Fastify()
// Options an older build ignores, so that one script measures before and after.
await app.register(fastifyPubsub, { console: false, docs: false, metrics: false, auth: { secret, maxGrants } as AuthOptions })
await app.listen({ host: '127.0.0.1', port: 0 })
const url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws`
const open = async (jwt: string): Promise<WebSocket> => {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${jwt}` }, maxPayload: 1 << 20 })
  await once(ws, 'message') // welcome
  return ws
}
const heavy = await open(token)
const pinger = await open(light)
const topic = publish.at(-1) as string
let acks = 0
const done = new Promise<void>((resolve) => {
  heavy.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string, code?: string }
    if (frame.type === 'error') throw new Error(`publish refused: ${frame.code as string}`)
    if (frame.type === 'ack' && ++acks === 200) resolve()
  })
})
const started = performance.now()
for (let i = 0; i < 200; i++) heavy.send(JSON.stringify({ action: 'publish', topic, message: i, id: i }))
pinger.send(JSON.stringify({ action: 'ping', id: 'p' }))
await once(pinger, 'message')
const pong = performance.now() - started
await done
const all = performance.now() - started
console.log(`${grants.toLocaleString('en')} grants (token ${Math.round(token.length / 1024)} KiB): 200 publishes acked in ${all.toFixed(1)} ms; another client's ping answered after ${pong.toFixed(1)} ms`)
heavy.terminate()
pinger.terminate()
await app.close()

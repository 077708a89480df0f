// Load shedding (@fastify/under-pressure) on real requests: a heap threshold
// of 1 byte puts the server under pressure at its first sample.
import Fastify from 'fastify'
import underPressure from '@fastify/under-pressure'
import t from 'tap'
import fastifyPubsub from '../../src/app.js'
import { build, connectWelcomed, eventually, listen, rawUpgrade } from '../helper.js'

t.test('under pressure: new requests get 503 with Retry-After; liveness, metrics and open connections carry on', async (t) => {
  // The first sample comes after sampleInterval: the client connects before it.
  const { app, url } = await listen(t, { underPressure: { maxHeapUsedBytes: 1, sampleInterval: 1000, retryAfter: 7 } })
  const client = await connectWelcomed(t, url)
  await client.subscribe('p')
  await eventually(async () => (await fetch(`${url}/ready`)).status === 503)

  const refused = await fetch(`${url}/publish/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '1' })
  t.equal(refused.status, 503)
  t.equal(refused.headers.get('retry-after'), '7')
  t.same(await refused.json(), { statusCode: 503, code: 'PUBSUB_ERR_UNAVAILABLE', error: 'Service Unavailable', message: 'server under pressure (heapUsedBytes)' })
  const upgrade = await rawUpgrade(url)
  upgrade.socket.destroy()
  t.match(upgrade.status, /^HTTP\/1.1 503/, 'a new WebSocket is refused')
  t.equal((await fetch(`${url}/sse/p`)).status, 503, 'a new SSE stream too')

  t.same(await (await fetch(`${url}/health`)).json(), { status: 'ok' }, 'alive: restarting would drop every client')
  const metrics = await fetch(`${url}/metrics`)
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), /pubsub_errors_total\{code="PUBSUB_ERR_UNAVAILABLE"\} [1-9]/, 'refusals are counted')

  await app.pubsub.publish('p', 'still here')
  t.match(await client.next(), { type: 'message', topic: 'p', data: 'still here' }, 'an open connection still gets messages')
  const id = client.request({ action: 'publish', topic: 'p', message: 2 })
  t.match(await client.take(2), [{ type: 'message', data: 2 }, { type: 'ack', id }], 'and may publish')
})

t.test('underPressure: false registers no load shedding', async (t) => {
  const app = await build(t, { underPressure: false })
  t.notOk(app.hasDecorator('isUnderPressure'))
})

t.test('a host app with its own @fastify/under-pressure keeps it', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(underPressure, { maxEventLoopDelay: 5000 })
  await app.register(fastifyPubsub)
  await app.ready()
  t.equal((await app.inject('/ready')).statusCode, 200)
})

t.test('invalid thresholds name the option', async (t) => {
  await t.rejects(build(t, { underPressure: { maxHeapUsedBytes: -1 } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.maxHeapUsedBytes/ })
  await t.rejects(build(t, { underPressure: { maxEventLoopUtilization: 2 } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.maxEventLoopUtilization/ })
  await t.rejects(build(t, { underPressure: { sampleInterval: 0 } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.sampleInterval/ })
})

// Load shedding (@fastify/under-pressure) on real requests. The pressure is
// switched by a healthCheck the test controls, so nothing races a sample.
// maxEventLoopDelay is off where it is not the subject: under-pressure takes
// a sample without a single event-loop measurement (likely at short
// intervals) as an infinite delay.
import underPressure from '@fastify/under-pressure'
import Fastify from 'fastify'
import t from 'tap'
import fastifyPubsub from '../../src/app.js'
import { build, connectWelcomed, eventually, listen, rawUpgrade } from '../helper.js'

t.test('under pressure: new requests get 503 with Retry-After; liveness, metrics and open connections carry on', async (t) => {
  let healthy = true
  const { app, url } = await listen(t, { underPressure: { maxEventLoopDelay: 0, healthCheck: async () => healthy, sampleInterval: 20, retryAfter: 7 } })
  const client = await connectWelcomed(t, url)
  await client.subscribe('p')
  healthy = false
  await eventually(async () => (await fetch(`${url}/ready`)).status === 503)

  const refused = await fetch(`${url}/publish/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '1' })
  t.equal(refused.status, 503)
  t.equal(refused.headers.get('retry-after'), '7')
  t.same(await refused.json(), { statusCode: 503, code: 'PUBSUB_ERR_UNAVAILABLE', error: 'Service Unavailable', message: 'server under pressure (healthCheck)' })
  const upgrade = await rawUpgrade(url)
  upgrade.socket.destroy()
  t.match(upgrade.status, /^HTTP\/1.1 503/, 'a new WebSocket is refused')
  t.equal((await fetch(`${url}/sse/p`)).status, 503, 'a new SSE stream too')

  t.same(await (await fetch(`${url}/health`)).json(), { status: 'ok' }, 'alive: restarting would drop every client')
  const metrics = await fetch(`${url}/metrics`)
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), /pubsub_load_shed_total\{reason="healthCheck"\} (\d+)/, 'refusals are counted by reason')

  await app.pubsub.publish('p', 'still here')
  t.match(await client.next(), { type: 'message', topic: 'p', data: 'still here' }, 'an open connection still gets messages')
  const id = client.request({ action: 'publish', topic: 'p', message: 2 })
  t.match(await client.take(2), [{ type: 'message', data: 2 }, { type: 'ack', id }], 'and may publish')

  healthy = true
  await eventually(async () => (await fetch(`${url}/ready`)).status === 200)
  t.equal((await fetch(`${url}/publish/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '3' })).status, 200, 'served again once the pressure is gone')
})

t.test('a heap threshold sheds load at the first sample', async (t) => {
  const app = await build(t, { underPressure: { maxEventLoopDelay: 0, maxHeapUsedBytes: 1, sampleInterval: 10 } })
  await eventually(async () => (await app.inject('/ready')).statusCode === 503)
  t.match((await app.inject('/ready')).json(), { message: 'server under pressure (heapUsedBytes)' })
})

t.test('event-loop utilization is judged per sample: load that has passed no longer sheds', async (t) => {
  const app = await build(t, { underPressure: { maxEventLoopDelay: 0, maxEventLoopUtilization: 0.5, sampleInterval: 200 } })
  const busyUntil = Date.now() + 600
  while (Date.now() < busyUntil) {} // eslint-disable-line no-empty
  await eventually(async () => (await app.inject('/ready')).statusCode === 503)
  await eventually(async () => (await app.inject('/ready')).statusCode === 200)
})

t.test('off by default in the plugin; `{}` turns it on; a host app with its own keeps it', async (t) => {
  const registered = (app: { printPlugins: () => string }): number => app.printPlugins().split('\n').filter((line) => line.includes('under-pressure')).length
  t.equal(registered(await build(t)), 0)
  t.equal(registered(await build(t, { underPressure: {} })), 1)
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(underPressure, { maxEventLoopDelay: 5000 })
  await host.register(fastifyPubsub, { underPressure: {} })
  await host.ready()
  t.equal(registered(host), 1, 'the host\'s only')
  t.equal((await host.inject('/ready')).statusCode, 200)
})

t.test('thresholds: checked, and byte limits past 2 GiB allowed', async (t) => {
  await t.resolves(build(t, { underPressure: { maxHeapUsedBytes: 8 * 2 ** 30, maxRssBytes: 16 * 2 ** 30 } }))
  await t.rejects(build(t, { underPressure: { maxHeapUsedBytes: -1 } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.maxHeapUsedBytes/ })
  await t.rejects(build(t, { underPressure: { maxEventLoopUtilization: 2 } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.maxEventLoopUtilization/ })
  await t.rejects(build(t, { underPressure: { sampleInterval: 0 } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.sampleInterval/ })
  await t.rejects(build(t, { underPressure: { retryAfter: 0 } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.retryAfter/ })
  await t.rejects(build(t, { underPressure: { healthCheck: 'yes' as unknown as () => Promise<boolean> } }), { code: 'PUBSUB_ERR_OPTION', message: /underPressure.healthCheck/ })
})

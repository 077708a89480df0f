import t from 'tap'
import { build, connectWelcomed, eventually, listen } from '../helper.js'

t.test('GET /health and GET /ready answer 200 while serving', async (t) => {
  const app = await build(t)
  t.same((await app.inject('/health')).json(), { status: 'ok' })
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
})

t.test('GET /ready answers 503 once the app is closing, while clients drain', async (t) => {
  const { app, url } = await listen(t, { closeGrace: 2000 })
  const client = await connectWelcomed(t, url)
  // Keep the drain busy: this client answers the close frame only when told to.
  client.ws.pause()
  const closing = app.close()
  await eventually(async () => (await fetch(`${url}/ready`)).status === 503)
  client.ws.resume()
  await closing
})

t.test('GET /ready answers 503 when the broker is closed', async (t) => {
  const app = await build(t)
  await app.pubsub.close()
  const res = await app.inject('/ready')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { statusCode: 503, code: 'PUBSUB_ERR_UNAVAILABLE', message: /broker is closed/ })
  t.equal((await app.inject('/health')).statusCode, 200, 'still alive')
})

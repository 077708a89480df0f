// Namespaces over every way in, with the worked config of docs/namespaces.md
// (chat, typing, prices, system), read from the file the docs show.
import { randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { connectWelcomed, listen } from '../helper.js'
import { WORKED } from '../namespaces-example.js'

const secret = randomBytes(32).toString('hex')
const token = (publish: string[]): string => createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'user-1', pubsub: { subscribe: ['>'], publish }, exp: Math.floor(Date.now() / 1000) + 600 })

async function post (url: string, topic: string, body: unknown, authorization?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`${url}/publish/${topic}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify(body)
  })
  return { status: res.status, body: await res.json() }
}

t.test('schema: WS, REST and the in-process API refuse INVALID_MESSAGE, naming the path; no seq is taken', async (t) => {
  const { app, url } = await listen(t, { namespaces: WORKED })
  const c = await connectWelcomed(t, url)
  await c.subscribe('chat.lobby')
  const ok = c.request({ action: 'publish', topic: 'chat.lobby', message: { text: 'hello' } })
  // The message is fanned out within the publish, before its ack is sent.
  t.match(await c.take(2), [{ type: 'message', seq: 1, data: { text: 'hello' } }, { type: 'ack', id: ok, seq: 1 }])
  const bad = c.request({ action: 'publish', topic: 'chat.lobby', message: { text: 42 } })
  t.same(await c.next(), { type: 'error', id: bad, code: 'INVALID_MESSAGE', message: "the message does not match the schema of namespace 'chat.>': /text must be string" })
  const extra = c.request({ action: 'publish', topic: 'chat.lobby', message: { text: 'x', html: '<b>' } })
  t.match(await c.next(), { type: 'error', id: extra, code: 'INVALID_MESSAGE', message: /\/ must NOT have additional properties \('html'\)$/ })

  const rest = await post(url, 'chat.lobby', { text: ['no'] })
  t.equal(rest.status, 400)
  t.match(rest.body, { statusCode: 400, code: 'PUBSUB_ERR_INVALID_MESSAGE', message: /: \/text must be string$/ })
  const text = await fetch(`${url}/publish/prices.eur`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '1.08' })
  t.equal(text.status, 400, 'a text/plain body is a string: not the object prices.> wants')
  await t.rejects(app.pubsub.publish('chat.lobby', { text: 'x'.repeat(2001) }), { code: 'PUBSUB_ERR_INVALID_MESSAGE', message: /\/text must NOT have more than 2000 characters/ })

  const next = await post(url, 'chat.lobby', { text: 'again' })
  t.match(next, { status: 200, body: { seq: 2 } }, 'the next publish gets the next seq')
  t.match(await c.next(), { type: 'message', seq: 2, data: { text: 'again' } })
  t.same(await c.drain(), [], 'nothing refused was delivered')
  const history = await (await fetch(`${url}/topics/chat.lobby/history`)).json() as { messages: Array<{ seq: number }> }
  t.same(history.messages.map((m) => m.seq), [1, 2], 'history has no gap')
  t.match(await post(url, 'prices.eur', { price: 1.08 }), { status: 200 })
  t.match(await post(url, 'news.any', { text: 42 }), { status: 200 }, 'outside every namespace nothing is checked')
})

t.test('maxMessageBytes: BAD_REQUEST over WS, 400 over REST and in process, naming the namespace and the limit', async (t) => {
  const { app, url } = await listen(t, { namespaces: { 'small.>': { maxMessageBytes: 16 } } })
  const c = await connectWelcomed(t, url)
  const big = c.request({ action: 'publish', topic: 'small.a', message: 'x'.repeat(15) })
  t.same(await c.next(), { type: 'error', id: big, code: 'BAD_REQUEST', message: "the message is 17 bytes, over the 16-byte limit of namespace 'small.>' (maxMessageBytes)" })
  const fits = c.request({ action: 'publish', topic: 'small.a', message: 'x'.repeat(14) })
  t.match(await c.next(), { type: 'ack', id: fits, seq: 1 }, '16 bytes fit')
  t.match(await post(url, 'small.a', { a: 'xxxxxxxxxx' }), { status: 400, body: { code: 'PUBSUB_ERR_BAD_REQUEST', message: /over the 16-byte limit of namespace 'small\.>'/ } })
  await t.rejects(app.pubsub.publish('small.a', 'é'.repeat(8)), { code: 'PUBSUB_ERR_BAD_REQUEST', message: /the message is 18 bytes/ })
  t.match(await app.pubsub.publish('small.a', 1), { seq: 2 }, 'no seq was taken by the refusals')
})

t.test('clientPublish: false: WS is FORBIDDEN; REST with auth off and the in-process API may publish', async (t) => {
  const { app, url } = await listen(t, { namespaces: WORKED })
  const c = await connectWelcomed(t, url)
  await c.subscribe('system.>')
  const id = c.request({ action: 'publish', topic: 'system.deploys', message: 'from a client' })
  t.same(await c.next(), { type: 'error', id, code: 'FORBIDDEN', message: "clients may not publish to namespace 'system.>' (clientPublish: false)" })
  t.match(await post(url, 'system.deploys', 'over REST'), { status: 200, body: { seq: 1 } }, 'auth off: REST is the application')
  t.match(await app.pubsub.publish('system.deploys', 'in process'), { seq: 2 })
  t.match(await c.take(2), [{ type: 'message', data: 'over REST' }, { type: 'message', data: 'in process' }])
})

t.test('clientPublish: false with auth on: only the API key publishes over REST; a token is FORBIDDEN even with the grant', async (t) => {
  const { app, url } = await listen(t, { namespaces: WORKED, auth: { secret, apiKey: 'backend-key-123' } })
  const forbidden = await post(url, 'system.deploys', 'x', `Bearer ${token(['system.>'])}`)
  t.equal(forbidden.status, 403)
  t.match(forbidden.body, { statusCode: 403, code: 'PUBSUB_ERR_FORBIDDEN', message: "clients may not publish to namespace 'system.>' (clientPublish: false)" })
  t.match(await post(url, 'system.deploys', 'x', 'Bearer backend-key-123'), { status: 200, body: { seq: 1 } }, 'the API key')
  t.match(await post(url, 'chat.lobby', { text: 'hi' }, `Bearer ${token(['chat.>'])}`), { status: 200 }, 'a token elsewhere')
  const c = await connectWelcomed(t, url, { token: token(['system.>']) })
  const id = c.request({ action: 'publish', topic: 'system.deploys', message: 'x' })
  t.match(await c.next(), { type: 'error', id, code: 'FORBIDDEN', message: /clientPublish: false/ })
  t.match(await app.pubsub.publish('system.deploys', 'y'), { seq: 2 }, 'in process')
})

t.test('GET /topics/:topic names the namespace; presence: false lists no clients; history follows the namespace', async (t) => {
  const { url } = await listen(t, { namespaces: WORKED })
  const c = await connectWelcomed(t, url)
  await c.subscribe('typing.lobby')
  await c.subscribe('chat.lobby')
  const typing = await (await fetch(`${url}/topics/typing.lobby`)).json() as Record<string, unknown>
  t.match(typing, { topic: 'typing.lobby', subscribers: 1, namespace: 'typing.>' })
  t.notOk('clients' in typing, 'presence: false')
  t.match(await (await fetch(`${url}/topics/chat.lobby`)).json(), { namespace: 'chat.>', clients: [String] })
  for (const price of [1, 2, 3]) await post(url, 'prices.eur', { price })
  const prices = await (await fetch(`${url}/topics/prices.eur/history`)).json()
  t.match(prices, { seq: 3, first: 3, messages: [{ seq: 3, data: { price: 3 } }] }, 'historySize 1')
  await post(url, 'typing.lobby', 'typing…')
  t.match(await (await fetch(`${url}/topics/typing.lobby/history`)).json(), { seq: 1, messages: [] }, 'historySize 0')
  await post(url, 'plain', 1)
  const plain = await (await fetch(`${url}/topics/plain`)).json() as Record<string, unknown>
  t.notOk('namespace' in plain, 'absent when in none')
})

t.test('fastify.pubsub.namespace(topic): the namespace a topic is in, for the app', async (t) => {
  const { app } = await listen(t, { namespaces: WORKED })
  t.match(app.pubsub.namespace('chat.lobby'), { pattern: 'chat.>', historySize: 500, clientPublish: true, presence: true })
  t.match(app.pubsub.namespace('system.deploys'), { pattern: 'system.>', historySize: undefined, clientPublish: false })
  t.equal(app.pubsub.namespace('news'), undefined)
  const { app: none } = await listen(t)
  t.equal(none.pubsub.namespace('chat.lobby'), undefined, 'no namespaces at all')
})

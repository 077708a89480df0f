// Auth on: every way in is checked, every denial answered as the docs say.
// Keys are made here, per run; none is committed.
import t from 'tap'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import WebSocket from 'ws'
import { PubsubClient } from '../../src/client/index.js'
import { Client, connectWelcomed, eventually, Inbox, listen, rawUpgrade, type Frame } from '../helper.js'

const secret = randomBytes(32).toString('hex')
const grants = { subscribe: ['news.>', 'user:17.*'], publish: ['user:17.outbox'] }
const now = (): number => Math.floor(Date.now() / 1000)

function token (claims: Record<string, unknown> = {}, key: string = secret, algorithm: 'HS256' | 'HS384' = 'HS256'): string {
  return createSigner({ key, algorithm })({ sub: 'user-17', pubsub: grants, exp: now() + 600, ...claims })
}

async function upgrade (url: string, query: string, headers: Record<string, string> = {}): Promise<{ status: string, body: string }> {
  const { socket, status, body } = await rawUpgrade(url, headers, query)
  socket.destroy()
  return { status, body }
}

t.test('upgrades without a valid token are refused with 401 before any WebSocket opens', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  const none = createSigner({ algorithm: 'none' })({ sub: 'user-17', pubsub: grants })
  const rows: Array<[string, string]> = [
    ['no token', ''],
    ['bad signature', `?token=${token({}, 'another secret')}`],
    ['wrong algorithm (HS384)', `?token=${token({}, secret, 'HS384')}`],
    ['alg none', `?token=${none}`],
    ['expired', `?token=${token({ exp: now() - 10 })}`],
    ['not yet valid', `?token=${token({ nbf: now() + 60 })}`],
    ['no sub', `?token=${token({ sub: undefined })}`],
    ['not a JWT', '?token=abc']
  ]
  for (const [why, query] of rows) {
    const refused = await upgrade(url, query)
    t.match(refused.status, / 401 /, why)
  }
  const { body } = await upgrade(url, '')
  t.match(JSON.parse(body.slice(body.indexOf('{'))), { statusCode: 401, code: 'PUBSUB_ERR_UNAUTHORIZED', message: /missing token/ })
})

t.test('grants decide subscribes and publishes; a refusal is FORBIDDEN and the connection stays', async (t) => {
  const { app, url } = await listen(t, { auth: { secret } })
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${token()}` } })
  t.teardown(() => ws.terminate())
  // At once: a welcome that arrives before its listener is lost.
  const c = new Client(ws)
  t.match(await c.next(), { type: 'welcome' }, 'a token in the Authorization header works too')
  for (const allowed of ['news.sports', 'news.*', 'news.>', 'user:17.inbox', 'user:17.*']) {
    t.match(await c.subscribe(allowed), { type: 'ack' }, `subscribe ${allowed}`)
  }
  const rows: Array<[Frame, string]> = [
    [{ action: 'subscribe', topic: 'news' }, 'outside news.>'],
    [{ action: 'subscribe', topic: '*.inbox' }, 'broader than user:17.*'],
    [{ action: 'subscribe', topic: '>' }, 'everything'],
    [{ action: 'publish', topic: 'news.sports', message: 1 }, 'a subscribe grant is not a publish grant'],
    [{ action: 'publish', topic: 'user:17.inbox', message: 1 }, 'not user:17.outbox']
  ]
  for (const [request, why] of rows) {
    const id = c.request(request)
    t.match(await c.next(), { type: 'error', id, code: 'FORBIDDEN', message: /not allowed/ }, why)
  }
  const id = c.request({ action: 'publish', topic: 'user:17.outbox', message: 'hi' })
  // Subscribed to user:17.*, the publisher also gets its message.
  t.match((await c.take(2)).find((f) => f.type === 'ack'), { id, seq: 1 })
  t.same(await c.drain(), [], 'still serving')
  t.same((await app.pubsub.topic('news.sports'))?.clients, ['user-17'], 'presence shows the sub')
})

t.test('granted exactly news.sports, subscribing news.* is refused', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  const narrow = token({ pubsub: { subscribe: ['news.sports'], publish: [] } })
  const c = await connectWelcomed(t, `${url}`, { token: narrow })
  c.send({ action: 'subscribe', topic: 'news.*', id: 1 })
  t.match(await c.next(), { type: 'error', id: 1, code: 'FORBIDDEN' })
  t.match(await c.subscribe('news.sports'), { type: 'ack' })
})

t.test('a fresh token before exp keeps the connection; without one it closes with 1008', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  const refreshed = await connectWelcomed(t, url, { token: token({ exp: now() + 2 }) })
  const lapsing = await connectWelcomed(t, url, { token: token({ exp: now() + 2 }) })
  refreshed.send({ action: 'auth', token: token({ exp: now() + 600 }), id: 'a' })
  t.same(await refreshed.next(), { type: 'ack', id: 'a', action: 'auth' })
  t.same(await lapsing.closed, { code: 1008, reason: 'token expired' })
  t.same(await refreshed.drain(), [], 'the refreshed one outlived the first exp')
  refreshed.send({ action: 'auth', token: token({ sub: 'someone-else' }), id: 'b' })
  t.match(await refreshed.next(), { type: 'error', id: 'b', code: 'FORBIDDEN', message: /another sub/ })
  refreshed.send({ action: 'auth', token: 'garbage', id: 'c' })
  t.match(await refreshed.next(), { type: 'error', id: 'c', code: 'FORBIDDEN', message: /invalid token/ })
  refreshed.send({ action: 'auth', id: 'd' })
  t.match(await refreshed.next(), { type: 'error', id: 'd', code: 'BAD_REQUEST', message: /token/ })
  const lasting = await connectWelcomed(t, url, { token: token({ exp: now() + 40 * 86_400 }) })
  t.same(await lasting.drain(), [], 'a token valid for 40 days (past a timer\'s range) is served')
})

t.test('auth off: the server is open and an auth frame is a harmless no-op', async (t) => {
  const { url } = await listen(t)
  const c = await connectWelcomed(t, url)
  c.send({ action: 'auth', token: 'anything', id: 1 })
  t.same(await c.next(), { type: 'ack', id: 1, action: 'auth' })
  t.equal((await fetch(`${url}/topics`)).status, 200)
})

t.test('REST: 401 without or with a bad token, 403 outside the grants, the API key publishes anywhere', async (t) => {
  const { app, url } = await listen(t, { auth: { secret, apiKey: 'backend-key-123' } })
  const post = async (topic: string, authorization?: string): Promise<Response> => await fetch(`${url}/publish/${topic}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: '{"n":1}'
  })
  const missing = await post('user:17.outbox')
  t.equal(missing.status, 401)
  t.match(await missing.json(), { statusCode: 401, code: 'PUBSUB_ERR_UNAUTHORIZED', error: 'Unauthorized', message: /missing token/ })
  const bad = await post('user:17.outbox', 'Bearer nope')
  t.equal(bad.status, 401)
  t.match(await bad.json(), { code: 'PUBSUB_ERR_UNAUTHORIZED', message: /invalid token/ })
  const forbidden = await post('news.sports', `Bearer ${token()}`)
  t.equal(forbidden.status, 403)
  t.match(await forbidden.json(), { statusCode: 403, code: 'PUBSUB_ERR_FORBIDDEN', error: 'Forbidden', message: 'not allowed to publish to news.sports' })
  t.equal((await post('user:17.outbox', `Bearer ${token()}`)).status, 200)
  t.equal((await post('anything.at.all', 'Bearer backend-key-123')).status, 200, 'the API key')
  t.equal((await post('anything.at.all', 'Bearer backend-key-124')).status, 401, 'a near miss of the API key')

  t.equal((await fetch(`${url}/topics`)).status, 401)
  t.equal((await fetch(`${url}/topics`, { headers: { authorization: `Bearer ${token()}` } })).status, 200)
  await app.pubsub.publish('news.sports', 1)
  t.equal((await fetch(`${url}/topics/news.sports/history?token=${token()}`)).status, 200)
  t.equal((await fetch(`${url}/topics/other/history?token=${token()}`)).status, 403)
  t.equal((await fetch(`${url}/topics/news.sports?token=${token()}`)).status, 200)
  t.equal((await fetch(`${url}/topics/other?token=${token()}`)).status, 403, "a topic's presence needs a grant for it")
  t.equal((await fetch(`${url}/health`)).status, 200, 'probes stay open')
  t.equal((await fetch(`${url}/sse/news.sports`)).status, 401)
  t.equal((await fetch(`${url}/sse/other?token=${token()}`)).status, 403)
  const stream = await fetch(`${url}/sse/news.%3E?token=${token()}`)
  t.equal(stream.status, 200, 'EventSource passes the token in the query')
  await stream.body?.cancel()
})

t.test('issue 14: a token with more than maxGrants grants is refused with 401; at the limit it works', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `r.${i}`)
  // 1,000 subscribe grants, one of them malformed, and one publish grant: 1,001 in all.
  const over = token({ pubsub: { subscribe: [...many(999), 'bad..grant'], publish: ['r.0'] } })
  const refused = await upgrade(url, `?token=${over}`)
  t.match(refused.status, / 401 /)
  t.match(JSON.parse(refused.body.slice(refused.body.indexOf('{'))), { code: 'PUBSUB_ERR_UNAUTHORIZED', message: 'invalid token: 1001 grants, more than the 1000 allowed' })
  const publish = await fetch(`${url}/publish/r.0`, { method: 'POST', headers: { authorization: `Bearer ${over}`, 'content-type': 'application/json' }, body: '1' })
  t.equal(publish.status, 401, 'REST refuses it too')

  const limit = token({ pubsub: { subscribe: many(999), publish: ['r.0'] } })
  const c = await connectWelcomed(t, url, { token: limit })
  t.match(await c.subscribe('r.998'), { type: 'ack' })
  for (let i = 0; i < 3; i++) {
    const id = c.request({ action: 'publish', topic: 'r.0', message: i })
    t.match(await c.next(), { type: 'ack', id })
  }
  const id = c.request({ action: 'subscribe', topic: 'r.*' })
  t.match(await c.next(), { type: 'error', id, code: 'FORBIDDEN' }, 'a thousand literals do not add up to a wildcard')

  const narrow = await listen(t, { auth: { secret, maxGrants: 2 } })
  t.match((await upgrade(narrow.url, `?token=${token({ pubsub: { subscribe: ['a', 'b'], publish: 'not a list' } })}`)).status, / 101 /)
  t.match((await upgrade(narrow.url, `?token=${token({ pubsub: { subscribe: ['a', 'b'], publish: ['c'] } })}`)).status, / 401 /)
})

t.test('RS256 from a PEM, ES256 from a JWK set; an HS256 token signed with the public key is refused', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const { url } = await listen(t, { auth: { publicKey: publicPem } })
  const rs = createSigner({ key: privatePem, algorithm: 'RS256' })({ sub: 'rs', pubsub: grants, exp: now() + 60 })
  t.match((await upgrade(url, `?token=${rs}`)).status, / 101 /)
  const confused = createSigner({ key: publicPem, algorithm: 'HS256' })({ sub: 'rs', pubsub: grants })
  t.match((await upgrade(url, `?token=${confused}`)).status, / 401 /, 'algorithm confusion')

  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = { ...ec.publicKey.export({ format: 'jwk' }), kid: 'key-1' }
  const jwks = await listen(t, { auth: { jwks: { keys: [jwk] } } })
  const es = createSigner({ key: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'ES256', kid: 'key-1' })({ sub: 'es', pubsub: grants })
  t.match((await upgrade(jwks.url, `?token=${es}`)).status, / 101 /)
  const unknownKid = createSigner({ key: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'ES256', kid: 'key-2' })({ sub: 'es' })
  t.match((await upgrade(jwks.url, `?token=${unknownKid}`)).status, / 401 /)
})

t.test('bad auth options fail at registration', async (t) => {
  const Fastify = (await import('fastify')).default
  const fastifyPubsub = (await import('../../src/index.js')).default
  const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
  for (const auth of [{}, { secret: 'a', publicKey: 'b' }, { publicKey: 'not a pem' }, { publicKey: ed }, { secret: 'a', maxGrants: -1 }]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(fastifyPubsub, { auth }) }, { code: 'PUBSUB_ERR_OPTION', message: /auth/ }, JSON.stringify(auth).slice(0, 40))
  }
})

t.test('the SDK takes a token provider: called per connection, and again to refresh before exp', async (t) => {
  const { app, url } = await listen(t, { auth: { secret } })
  let calls = 0
  const expiries: number[] = []
  const client = new PubsubClient({
    url: url.replace(/^http/, 'ws') + '/ws',
    WebSocket,
    reconnect: { initialDelay: 5 },
    token: async () => {
      calls++
      const exp = now() + 2
      expiries.push(exp * 1000)
      return token({ exp })
    }
  })
  t.teardown(() => client.close())
  const closes = new Inbox<{ code: number }>()
  client.on('close', closes.push)
  await client.connect()
  const inbox = new Inbox<{ data: unknown }>()
  await client.subscribe('news.sports', inbox.push).ready
  // The refresh, a fifth of the token's life before its exp.
  await eventually(() => calls >= 2)
  t.ok(calls >= 2, `the provider was called again (${calls} calls)`)
  // Just past the moment the server would have closed it with 1008 unrefreshed.
  const firstExpiry = expiries[0] as number
  await eventually(() => Date.now() > firstExpiry + 100)
  t.same(closes.items, [], 'never closed')
  await app.pubsub.publish('news.sports', 'still here')
  t.match(await inbox.next(), { data: 'still here' })
  for (const socket of app.websocketServer.clients) socket.terminate()
  const before = calls
  await new Promise<void>((resolve) => client.once('welcome', () => resolve()))
  t.ok(calls > before, 'a reconnect asks for a token again')
})

t.test('the SDK reports a failing token provider and keeps trying', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  let calls = 0
  const client = new PubsubClient({
    url: url.replace(/^http/, 'ws') + '/ws',
    WebSocket,
    reconnect: { initialDelay: 5, maxDelay: 10 },
    token: () => { if (++calls < 3) throw new Error('identity service down'); return token() }
  })
  t.teardown(() => client.close())
  const errors = new Inbox<Error>()
  client.on('error', errors.push)
  await client.connect()
  t.match(await errors.next(), { code: 'CONNECTION', message: /token provider failed: identity service down/ })
  t.equal(calls, 3)
  const fixed = new PubsubClient({ url: url.replace(/^http/, 'ws') + '/ws', WebSocket, token: token() })
  t.teardown(() => fixed.close())
  t.match(await fixed.connect(), { clientId: String }, 'a static token')
})

t.test('a token without grants (or with malformed ones) may do nothing', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  for (const pubsub of [undefined, { subscribe: 'news.>', publish: [42, 'bad..topic'] }]) {
    const c = await connectWelcomed(t, url, { token: token({ pubsub }) })
    c.send({ action: 'subscribe', topic: 'news.sports', id: 1 })
    t.match(await c.next(), { type: 'error', code: 'FORBIDDEN' })
    c.send({ action: 'publish', topic: 'bad', message: 1, id: 2 })
    t.match(await c.next(), { type: 'error', code: 'FORBIDDEN' })
  }
})

t.test('the SDK reports a refresh the server refuses; a token that is not a JWT is never refreshed', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  let calls = 0
  const client = new PubsubClient({
    url: url.replace(/^http/, 'ws') + '/ws',
    WebSocket,
    // The second token is for someone else: the server refuses it.
    token: () => token({ exp: now() + 1, sub: ++calls === 1 ? 'user-17' : 'user-18' })
  })
  t.teardown(() => client.close())
  const errors = new Inbox<Error>()
  client.on('error', errors.push)
  await client.connect()
  t.match(await errors.next(), { code: 'CONNECTION', message: /token refresh failed: the token is for another sub/ })

  const open = await listen(t)
  const plain = new PubsubClient({ url: open.url.replace(/^http/, 'ws') + '/ws', WebSocket, token: () => 'not-a-jwt' })
  t.teardown(() => plain.close())
  t.match(await plain.connect(), { clientId: String }, 'auth off: the token is ignored')
  t.equal(typeof (await plain.ping()), 'number')
})

t.test('the SDK closed while its token provider works opens nothing; a token without exp is not refreshed', async (t) => {
  const { url } = await listen(t, { auth: { secret } })
  for (const outcome of ['resolve', 'reject'] as const) {
    let settle: () => void = () => {}
    const gate = new Promise<void>((resolve) => { settle = resolve })
    const client = new PubsubClient({
      url: url.replace(/^http/, 'ws') + '/ws',
      WebSocket,
      token: async () => { await gate; if (outcome === 'reject') throw new Error('late'); return token() }
    })
    const connecting = t.rejects(client.connect(), { code: 'CLOSED' })
    await client.close()
    settle()
    await connecting
    t.equal(client.state, 'closed', `provider ${outcome}s after close: still closed`)
  }
  const noExp = new PubsubClient({ url: url.replace(/^http/, 'ws') + '/ws', WebSocket, token: () => token({ exp: undefined }) })
  t.teardown(() => noExp.close())
  t.match(await noExp.connect(), { clientId: String })
})

t.test('clockTolerance accepts a token just past exp, and the connection is not closed for it at once', async (t) => {
  const { url } = await listen(t, { auth: { secret, clockTolerance: 30 } })
  const c = await connectWelcomed(t, url, { token: token({ exp: now() - 2 }) })
  t.same(await c.drain(), [])
  t.equal(c.ws.readyState, c.ws.OPEN)
})

// Tokens in query strings never reach a host app's log: the plugin's routes
// mask them whatever logger the host gave Fastify, and a host app uses the
// same serializer for its own routes.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { createSigner } from 'fast-jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyPubsub, { redactToken, requestSerializer } from '../../src/index.js'
import { connectWelcomed, eventually, rawUpgrade } from '../helper.js'
import { sse } from '../sse-client.js'

const secret = randomBytes(32).toString('hex')
const token = createSigner({ key: secret })({ sub: 'user-17', pubsub: { subscribe: ['news.>'], publish: ['news.>'] }, exp: Math.floor(Date.now() / 1000) + 600 })

/** A host app as its README example has it: `logger: true`, its lines captured. */
async function host (t: Test, serializers = {}): Promise<{ app: FastifyInstance, url: string, lines: string[] }> {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } }, serializers } })
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, { prefix: '/realtime', auth: { secret } })
  // Its own routes: one left to Fastify's default serializer, one given ours.
  app.get('/own', async () => 'ok')
  app.get('/own/redacted', { logSerializers: { req: requestSerializer } }, async () => 'ok')
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { app, url: `http://127.0.0.1:${port}`, lines }
}

/** The urls of the captured `incoming request` lines. */
function incoming (lines: string[]): string[] {
  return lines.map((line) => JSON.parse(line)).filter((l) => l.msg === 'incoming request').map((l) => l.req.url)
}

t.test('a host app with logger on logs no token of the plugin\'s routes', async (t) => {
  const { url, lines } = await host(t)
  await connectWelcomed(t, `${url}/realtime`, { token })
  const stream = await sse(t, `${url}/realtime/sse/news.sports?token=${token}`)
  t.equal(stream.response.statusCode, 200, 'the SSE stream is open')
  const encoded = await fetch(`${url}/realtime/topics?%74oken=${token}`)
  t.equal(encoded.status, 200, 'a percent-encoded name is still the token Fastify reads')
  const repeated = await fetch(`${url}/realtime/topics?token=${token}&token=${token}`)
  t.equal(repeated.status, 401, 'repeated, it is no token: refused, and logged masked')
  const published = await fetch(`${url}/realtime/publish/news.sports?token=${token}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } })
  t.equal(published.status, 200, 'the header carries it, the query too')
  t.equal((await fetch(`${url}/realtime/health?token=${token}`)).status, 200, 'an open route, a token sent anyway')
  await eventually(() => incoming(lines).length >= 6)
  t.same(incoming(lines).sort(), [
    '/realtime/health?token=[redacted]',
    '/realtime/publish/news.sports?token=[redacted]',
    '/realtime/sse/news.sports?token=[redacted]',
    '/realtime/topics?%74oken=[redacted]',
    '/realtime/topics?token=[redacted]&token=[redacted]',
    '/realtime/ws?token=[redacted]'
  ], 'every request line is logged, its token masked')
  const first = lines.map((line) => JSON.parse(line)).find((l) => l.msg === 'incoming request')
  t.same(Object.keys(first.req).sort(), ['host', 'method', 'remoteAddress', 'remotePort', 'url'], 'the fields of Fastify\'s default serializer')
  t.same(lines.filter((line) => line.includes(token)), [], 'no captured line holds the token')
  t.same(lines.filter((line) => line.includes(token.split('.')[2] as string)), [], 'nor its signature')
})

t.test('a mistyped path under the prefix: the plugin answers its 404s, the token masked', async (t) => {
  // As docs/auth.md has it: the host passes requestSerializer app-wide, since
  // a request that matches no route is logged before any route's serializer applies.
  const { url, lines } = await host(t, { req: requestSerializer })
  const page = await fetch(`${url}/realtime/nowhere?token=${token}`)
  t.equal(page.status, 404)
  t.same(await page.json(), { statusCode: 404, error: 'Not Found', message: 'Route GET:/realtime/nowhere?token=[redacted] not found' }, "Fastify's shape, the token masked")
  t.equal((await fetch(`${url}/realtime/nowhere?token=${token}`, { method: 'POST' })).status, 404)
  // rawUpgrade adds '/ws': the path is /realtime/wsx.
  const upgrade = await rawUpgrade(`${url}/realtime`, {}, `x?token=${token}`)
  t.match(upgrade.status, /^HTTP\/1.1 404/, 'a WebSocket to a path that is none: 404 before any upgrade')
  upgrade.socket.destroy()
  await eventually(() => lines.filter((line) => line.includes('not found')).length >= 3)
  t.same(lines.map((line) => JSON.parse(line)).filter((l) => String(l.msg).endsWith('not found')).map((l) => l.msg).sort(), [
    'Route GET:/realtime/nowhere?token=[redacted] not found',
    'Route GET:/realtime/wsx?token=[redacted] not found',
    'Route POST:/realtime/nowhere?token=[redacted] not found'
  ], "Fastify's own line put the raw URL in its message, where no serializer reaches")
  t.same(lines.filter((line) => line.includes(token)), [], 'no captured line holds the token')
})

t.test('a host app\'s own routes: the default serializer logs the token, requestSerializer masks it', async (t) => {
  const { url, lines } = await host(t)
  await fetch(`${url}/own?token=${token}`)
  await fetch(`${url}/own/redacted?token=${token}&a=1`)
  await eventually(() => incoming(lines).length >= 2)
  t.same(incoming(lines), [`/own?token=${token}`, '/own/redacted?token=[redacted]&a=1'], 'outside the plugin, the host decides')
})

t.test('a host app that passes requestSerializer to its logger masks every route', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { stream: { write: (line: string) => { lines.push(line) } }, serializers: { req: requestSerializer } } })
  t.teardown(() => app.close())
  app.get('/own', async () => 'ok')
  await app.inject(`/own?token=${token}`)
  await app.inject(`/nowhere?x=1&token=${token}`)
  t.same(incoming(lines), ['/own?token=[redacted]', '/nowhere?x=1&token=[redacted]'], 'its 404s included')
})

t.test('redactToken', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['no query', '/realtime/ws', '/realtime/ws'],
    ['empty query', '/ws?', '/ws?'],
    ['the token', '/ws?token=eyJ.a.b', '/ws?token=[redacted]'],
    ['other params kept', '/sse/a?since=3&token=eyJ&x=%41', '/sse/a?since=3&token=[redacted]&x=%41'],
    ['a name that only ends in token', '/ws?mytoken=1&token_type=2', '/ws?mytoken=1&token_type=2'],
    ['another case is another name', '/ws?TOKEN=1', '/ws?TOKEN=1'],
    ['repeated', '/ws?token=1&token=2&a=b&token=3', '/ws?token=[redacted]&token=[redacted]&a=b&token=[redacted]'],
    ['percent-encoded name', '/ws?%74oken=1&to%6B%65n=2&%54oken=3', '/ws?%74oken=[redacted]&to%6B%65n=[redacted]&%54oken=3'],
    ['empty value', '/ws?token=', '/ws?token=[redacted]'],
    ['no value', '/ws?token&a=1', '/ws?token&a=1'],
    ['a value with = in it', '/ws?token=a=b&c=d', '/ws?token=[redacted]&c=d'],
    ['a fragment after it', '/ws?token=abc#frag', '/ws?token=[redacted]'],
    ['a token in a fragment', '/ws?a=1#token=abc&b=2', '/ws?a=1#token=[redacted]&b=2'],
    ['a semicolon delimiter', '/ws;token=abc', '/ws;token=[redacted]'],
    ['a token with ; in it', '/ws?token=ab;cd&e=f', '/ws?token=[redacted]&e=f'],
    ['a ? inside the query', '/ws?a=1?token=abc', '/ws?a=1?token=[redacted]'],
    ['malformed percent in the name', '/ws?%74oken%=1&%E0%A4%A=2&%=3', '/ws?%74oken%=1&%E0%A4%A=2&%=3'],
    ['malformed percent in the value', '/ws?token=%ZZ%&a=%', '/ws?token=[redacted]&a=%'],
    ['a + in the name', '/ws?token+=1', '/ws?token+=1'],
    ['an absolute url', 'http://h:1/ws?token=abc', 'http://h:1/ws?token=[redacted]'],
    ['the empty string', '', '']
  ]
  for (const [what, url, expected] of cases) t.equal(redactToken(url), expected, what)
})

t.test('requestSerializer keeps Fastify\'s fields', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/x', async (request) => requestSerializer(request))
  const res = await app.inject({ url: '/x?token=abc', headers: { 'accept-version': '1.x' } })
  t.match(res.json(), { method: 'GET', url: '/x?token=[redacted]', version: '1.x', host: 'localhost:80', remoteAddress: '127.0.0.1' })
})

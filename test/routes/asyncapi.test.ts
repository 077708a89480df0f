import fastifySwagger from '@fastify/swagger'
import { Ajv, type ValidateFunction } from 'ajv'
import Fastify from 'fastify'
import { readFileSync } from 'node:fs'
import t from 'tap'
import fastifyPubsub, { type NamespaceOptions } from '../../src/index.js'
import asyncApiRoute from '../../src/routes/asyncapi.js'
import { CONTRACT, parseValid } from '../asyncapi.js'
import { build, connectWelcomed, connect, listen, type Frame } from '../helper.js'
import { sse, type SseEvent } from '../sse-client.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

type Doc = Record<string, any>

/** A validator per message of `channel`, by message name, from the document served. */
function validators (doc: Doc, channel: string): Map<string, { payload: ValidateFunction, headers?: ValidateFunction }> {
  const ajv = new Ajv({ strict: false })
  const messages = doc.channels[channel].messages as Record<string, { $ref: string }>
  return new Map(Object.entries(messages).map(([name, { $ref }]) => {
    const message = doc.components.messages[$ref.slice('#/components/messages/'.length)]
    return [name, { payload: ajv.compile(message.payload), headers: message.headers === undefined ? undefined : ajv.compile(message.headers) }]
  }))
}

/** The names of the SSE messages that `event` (its `event:` and `id:` fields as headers, its data as payload) validates against. */
function matchingEvent (all: Map<string, { payload: ValidateFunction, headers?: ValidateFunction }>, { event, id, data }: SseEvent): string[] {
  const fields = { ...(event === 'message' ? {} : { event }), ...(id === undefined ? {} : { id }) }
  return [...all].filter(([, { payload, headers }]) => headers?.(fields) === true && payload(data)).map(([name]) => name)
}

/** The names of the messages whose payload `value` validates against. */
function matching (all: Map<string, { payload: ValidateFunction }>, value: unknown): string[] {
  return [...all].filter(([, { payload }]) => payload(value)).map(([name]) => name)
}

t.test('GET /asyncapi.json: a valid AsyncAPI 3.0 document of this server, with every action, frame and code', async (t) => {
  const { url } = await listen(t, { prefix: '/rt' })
  const res = await fetch(`${url}/asyncapi.json`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^application\/json/)
  const text = await res.text()
  const parsed = await parseValid(t, text)
  const doc = JSON.parse(text) as Doc
  t.equal(parsed.info().version(), version, "the package's version")
  const { host } = new URL(url)
  t.same(doc.servers, {
    websocket: { host, pathname: '/rt', protocol: 'ws', description: 'The WebSocket endpoint' },
    http: { host, pathname: '/rt', protocol: 'http', description: 'Server-Sent Events' }
  }, 'the servers as the request reached them, the prefix as pathname')
  t.same(parsed.channels().all().map((channel) => channel.id()).sort(), ['sse', 'topics', 'ws'], 'no namespaces configured')
  const ws = validators(doc, 'ws')
  const names = [...ws.keys()]
  for (const action of CONTRACT.actions) t.ok(names.includes(action), `action ${action}`)
  const types = new Set(names.map((name) => doc.components.messages[name].payload.properties.type?.const))
  for (const type of CONTRACT.frames) t.ok(types.has(type), `frame ${type}`)
  t.same(doc.components.messages.error.payload.properties.code.enum, CONTRACT.codes)
  for (const code of CONTRACT.closeCodes) t.match(doc.channels.ws.description, code)
})

t.test("the server's own frames and SSE events each match one message of the document, and the requests sent too", async (t) => {
  const { url } = await listen(t)
  const doc = await (await fetch(`${url}/asyncapi.json`)).json() as Doc
  const ws = validators(doc, 'ws')
  const client = await connect(t, url)
  const frames: Frame[] = [await client.next()]
  const requests: Frame[] = [
    { action: 'subscribe', topic: 'news.sports', id: 1 },
    { action: 'subscribe', topic: 'news.*', id: 'two' },
    { action: 'publish', topic: 'news.sports', message: { score: '2-1' }, key: 'k1', id: 3 },
    { action: 'publish', topic: 'news.sports', message: { score: '2-1' }, key: 'k1', id: 4 },
    { action: 'publish', topic: 'news.weather', message: null, id: 5 },
    { action: 'subscribe', topic: 'news.sports', since: 0, epoch: 'nope', id: 6 },
    { action: 'auth', token: 'x', id: 7 },
    { action: 'unsubscribe', topic: 'news.*', id: 8 },
    { action: 'ping', id: 9 }
  ]
  for (const request of requests) client.send(request)
  client.send('not json')
  client.send({ action: 'shout', id: 10 })
  client.send({ action: 'publish', topic: 'news.*', message: 1, id: 11 })
  for (;;) {
    const frame = await client.next()
    frames.push(frame)
    if (frame.type === 'error' && frame.id === 11) break
  }
  const seen = new Set<string>()
  for (const frame of frames) {
    const names = matching(ws, frame)
    t.equal(names.length, 1, `${JSON.stringify(frame)} matches exactly one message (${names.join(', ')})`)
    seen.add(names[0] as string)
  }
  t.same([...seen].sort(), ['authAck', 'error', 'message', 'pong', 'publishAck', 'subscribeAck', 'unsubscribeAck', 'welcome'], 'every kind of frame but reset was checked')
  t.ok(frames.some((frame) => frame.duplicate === true) && frames.some((frame) => frame.subscription === 'news.*') && frames.some((frame) => frame.recovered === false))
  t.same(frames.filter((frame) => frame.type === 'error').map((frame) => frame.code), ['BAD_JSON', 'UNKNOWN_ACTION', 'INVALID_TOPIC'])
  for (const request of requests) t.same(matching(ws, request), [request.action], `${JSON.stringify(request)} is its action's request`)
  t.same(matching(ws, { type: 'reset', topic: 'orders', seq: 0, epoch: 'e' }), ['reset'], 'a reset as the server writes it (the memory engine never sends one)')

  const events = validators(doc, 'sse')
  const stream = await sse(t, `${url}/sse/news.sports`)
  await stream.until(1)
  const publisher = await connectWelcomed(t, url)
  publisher.request({ action: 'publish', topic: 'news.sports', message: 'goal' })
  const [subscribed, message] = await stream.until(2)
  t.same(matchingEvent(events, subscribed as SseEvent), ['sseSubscribed'])
  t.same(matchingEvent(events, message as SseEvent), ['sseMessage'])
  t.match(subscribed, { event: 'subscribed', id: /^.+:1$/ }, 'news.sports had one message')
  t.match(message, { event: 'message', id: /^.+:2$/ })
  t.same(matchingEvent(events, { event: 'reset', id: 'e:3', data: { topic: 'news.sports', seq: 3, epoch: 'e' } }), ['sseReset'], 'and the events this test cannot provoke, as sse-stream.ts writes them')
  t.same(matchingEvent(events, { event: 'error', data: { code: 'UNAVAILABLE', message: 'closing' } }), ['sseError'])
  t.same(matchingEvent(events, { event: 'message', data: { topic: 'news.sports', seq: 3 } }), [], 'a reset without its event name is no message')
})

t.test('behind a trusted proxy that terminated TLS: wss and https', async (t) => {
  const app = await build(t, {}, { trustProxy: true })
  const res = await app.inject({ url: '/asyncapi.json', headers: { host: 'pubsub.example.com', 'x-forwarded-proto': 'https' } })
  t.match(res.json().servers, { websocket: { host: 'pubsub.example.com', protocol: 'wss' }, http: { host: 'pubsub.example.com', protocol: 'https' } })
  t.notOk('pathname' in res.json().servers.websocket, 'no prefix, no pathname')
})

t.test('the route describes the namespaces it is given', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncApiRoute, { historySize: 7, historyTtl: 1000, namespaces: { 'chat.>': { schema: { type: 'string' } } }, prefix: '/x' })
  const doc = (await app.inject('/x/asyncapi.json')).json()
  await parseValid(t, doc)
  t.same(Object.keys(doc.channels).sort(), ['chat.rest', 'sse', 'topics', 'ws'])
  t.same(doc.components.schemas['chat.rest'], { type: 'string' })
  t.match(doc.channels.topics['x-pubsub-namespace'], { historySize: 7, historyTtl: 1000 })
  t.equal(doc.servers.websocket.pathname, '/x')
})

t.test('the OpenAPI document leaves it out and links to it', async (t) => {
  const app = await build(t, { prefix: '/rt' })
  const openapi = (await app.inject('/rt/docs/json')).json()
  t.notOk('/rt/asyncapi.json' in openapi.paths)
  t.match(openapi.info.description, '/rt/asyncapi.json')
})

t.test('docs: false serves no AsyncAPI document either', async (t) => {
  const app = await build(t, { docs: false, prefix: '/rt' })
  t.equal((await app.inject('/rt/asyncapi.json')).statusCode, 404)
})

t.test("with the host app's own @fastify/swagger, the AsyncAPI document is still ours", async (t) => {
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(fastifySwagger, { openapi: { info: { title: 'host', version: '9' } } })
  await host.register(fastifyPubsub, { prefix: '/rt' })
  const res = await host.inject('/rt/asyncapi.json')
  t.equal(res.statusCode, 200)
  t.equal(res.json().info.title, 'fastify-pubsub')
})

t.test("the plugin's namespaces are channels of the document it serves", async (t) => {
  const { namespaces } = JSON.parse(readFileSync(new URL('../../docs/namespaces.example.json', import.meta.url), 'utf8')) as { namespaces: Record<string, NamespaceOptions> }
  const { url } = await listen(t, { namespaces })
  const doc = await (await fetch(`${url}/asyncapi.json`)).json() as Doc
  await parseValid(t, doc)
  const addresses = Object.values(doc.channels as Record<string, { address: string }>).map((channel) => channel.address)
  for (const pattern of Object.keys(namespaces)) t.ok(addresses.includes(pattern), `${pattern} is a channel`)
})

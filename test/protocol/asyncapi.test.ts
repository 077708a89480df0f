import t from 'tap'
import { asyncApiDocument, channelKey, type AsyncApiDocument } from '../../src/protocol/asyncapi.js'
import * as errors from '../../src/protocol/errors.js'
import { ERROR_CODES } from '../../src/protocol/frame-schemas.js'
import { CONTRACT, parser, parseValid } from '../asyncapi.js'

// The worked config of the namespaces spec (docs/namespaces.md).
const NAMESPACES = {
  'chat.>': { historySize: 500, schema: { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 2000 } }, additionalProperties: false } },
  'typing.>': { historySize: 0, presence: false },
  'prices.>': { historySize: 1, conflate: true, schema: { type: 'object', required: ['price'], properties: { price: { type: 'number' } } } },
  'system.>': { clientPublish: false }
}
const DEFAULTS = { historySize: 100, historyTtl: 300_000 }
const ADDRESS = { host: '127.0.0.1:8080', secure: false, prefix: '' }

/** The `const` of `field` in each payload of `names` (messages of the ws channel). */
function consts (doc: AsyncApiDocument, field: string): string[] {
  const messages = doc.components.messages as Record<string, { payload: { properties: Record<string, { const?: string }> } }>
  const ws = doc.channels.ws?.messages as Record<string, unknown>
  return [...new Set(Object.keys(ws).map((name) => messages[name]?.payload.properties[field]?.const).filter((c) => c !== undefined))]
}

t.test('the worked namespaces: a valid AsyncAPI 3.0 document, one channel per namespace with its schema and options', async (t) => {
  const doc = asyncApiDocument({ version: '1.2.3', namespaces: NAMESPACES, defaults: DEFAULTS, ...ADDRESS })
  const parsed = await parseValid(t, doc)
  t.equal(parsed.version(), '3.0.0')
  t.equal(parsed.info().version(), '1.2.3')
  const channels = new Map(parsed.channels().all().map((channel) => [channel.id(), channel]))
  t.same([...channels.keys()].sort(), ['chat.rest', 'prices.rest', 'sse', 'system.rest', 'topics', 'typing.rest', 'ws'], 'exactly these channels: none dropped, none extra')
  t.same(Object.keys(NAMESPACES).map((pattern) => channels.get(channelKey(pattern, new Set()))?.address()), Object.keys(NAMESPACES), 'each namespace channel has its pattern as address')
  t.equal(channels.get('topics')?.address(), '{topic}', 'topics in no namespace')

  for (const [pattern, options] of Object.entries(NAMESPACES)) {
    const key = channelKey(pattern, new Set())
    const channel = channels.get(key)
    const messages = new Map(channel?.messages().all().map((m) => [m.id(), m]))
    const data = messages.get('message')?.payload()?.properties()?.data?.json()
    const schema = 'schema' in options ? options.schema : { description: 'Any JSON value' }
    t.match(data, schema, `${pattern}: message frames carry the namespace's schema as data`)
    const publish = messages.get('publish')?.payload()?.properties()?.message?.json()
    if ('clientPublish' in options) t.equal(publish, undefined, `${pattern}: no client publish`)
    else t.match(publish, schema, `${pattern}: a publish carries it as message`)
    t.match(doc.channels[key]?.['x-pubsub-namespace'], { pattern, ...DEFAULTS, clientPublish: true, presence: true, conflate: false, ...options, schema: undefined }, `${pattern}: its options, defaults filled in`)
  }
  t.match(doc.channels['typing.rest']?.description, /No history.*No presence/)
  t.match(doc.channels['system.rest']?.description, /may not publish here \(FORBIDDEN\)/)
  t.match(doc.channels['chat.rest']?.description, /last 500 messages for 300000 ms/)
  t.match(doc.channels['prices.rest']?.description, /falls behind gets the latest message of each topic, with `skipped`/)
  t.same(Object.keys(doc.components.schemas as object).sort(), ['anyJson', 'chat.rest', 'prices.rest'])
  t.notOk('system.rest.publish' in doc.operations, 'no publish operation where clients may not publish')
  t.ok('chat.rest.publish' in doc.operations && 'chat.rest.deliver' in doc.operations)
  t.match(doc.servers, { websocket: { host: '127.0.0.1:8080', protocol: 'ws' }, http: { host: '127.0.0.1:8080', protocol: 'http' } })
  t.notOk('pathname' in (doc.servers.websocket as object), 'no pathname without a prefix')
})

t.test("every action, server frame, error code and close code of the contract, and the frames' schemas", async (t) => {
  const doc = asyncApiDocument({ version: '1', defaults: DEFAULTS, host: 'example.com', secure: true, prefix: '/rt' })
  const parsed = await parseValid(t, doc)
  t.same(parsed.channels().all().map((channel) => channel.id()).sort(), ['sse', 'topics', 'ws'], 'no namespace, no namespace channel')
  t.same(consts(doc, 'action').sort(), [...CONTRACT.actions].sort(), 'every action (acks name theirs too)')
  t.same(consts(doc, 'type').sort(), [...CONTRACT.frames].sort(), 'every server frame type')
  const error = (doc.components.messages as Record<string, { payload: { properties: { code: { enum: string[], description: string } } } }>).error
  t.same(error?.payload.properties.code.enum, CONTRACT.codes, 'the error codes as an enum')
  for (const code of CONTRACT.codes) t.match(error?.payload.properties.code.description, `\`${code}\`: `, `${code} says when`)
  for (const code of CONTRACT.closeCodes) t.match(doc.channels.ws?.description, `- ${code}: `, `close code ${code}`)
  t.same(Object.keys(doc.channels.ws?.['x-close-codes'] as object), CONTRACT.closeCodes)
  t.match(doc.servers, { websocket: { host: 'example.com', pathname: '/rt', protocol: 'wss' }, http: { host: 'example.com', pathname: '/rt', protocol: 'https' } })
  t.same(parsed.channels().get('ws')?.servers().all().map((server) => server.id()), ['websocket'])
  t.same(parsed.channels().get('sse')?.servers().all().map((server) => server.id()), ['http'])
  const subscribe = parsed.operations().get('subscribe')
  t.equal(subscribe?.action(), 'receive')
  t.same(subscribe?.reply()?.messages().all().map((m) => m.id()), ['subscribeAck', 'error'], 'a request names the frames that answer it')
  t.same(parsed.channels().get('sse')?.messages().all().map((m) => m.name()), ['subscribed', 'message', 'reset', 'error'])
  t.match(doc.channels.topics?.['x-pubsub-namespace'], { pattern: null, ...DEFAULTS, clientPublish: true, presence: true })
})

t.test('the error codes are the contract\'s, and every wire code the server raises is among them', async (t) => {
  t.same(Object.keys(ERROR_CODES), CONTRACT.codes)
  const httpOnly = ['OPTION', 'TOPIC_NOT_FOUND', 'BAD_CURSOR', 'UNAUTHORIZED']
  const wire = Object.keys(errors).filter((name) => name.startsWith('PUBSUB_ERR_')).map((name) => name.slice('PUBSUB_ERR_'.length)).filter((code) => !httpOnly.includes(code))
  t.same(wire.filter((code) => !(code in ERROR_CODES)), [])
})

t.test('channel keys: safe in a JSON pointer, readable, never shared', async (t) => {
  t.equal(channelKey('chat.>', new Set()), 'chat.rest')
  t.equal(channelKey('user.*.inbox', new Set()), 'user.star.inbox')
  t.equal(channelKey('user:17.a@b~c=d', new Set()), 'user_17.a_b_c_d')
  t.equal(channelKey('ws', new Set(['ws'])), 'ws-2', 'not one of the fixed channels')
  t.equal(channelKey('chat.rest', new Set(['chat.rest', 'chat.rest-2'])), 'chat.rest-3')
  const doc = asyncApiDocument({ version: '1', namespaces: { 'a.>': {}, 'a.rest': { schema: { type: 'string' } }, topics: {}, sse: { clientPublish: false } }, defaults: DEFAULTS, ...ADDRESS })
  const parsed = await parseValid(t, doc)
  t.same(parsed.channels().all().map((channel) => [channel.id(), channel.address()]).sort(), [
    ['a.rest', 'a.>'], ['a.rest-2', 'a.rest'], ['sse', '/sse/{topic}'], ['sse-2', 'sse'], ['topics', '{topic}'], ['topics-2', 'topics'], ['ws', '/ws']
  ])
  t.match(parsed.channels().get('a.rest-2')?.messages().get('message')?.payload()?.properties()?.data?.json(), { type: 'string' })
})

t.test('a namespace of its own size limit and retention says so', async (t) => {
  const doc = asyncApiDocument({ version: '1', namespaces: { 'big.>': { maxMessageBytes: 1024, historyTtl: 5000 } }, defaults: DEFAULTS, ...ADDRESS })
  await parseValid(t, doc)
  t.same(doc.channels['big.rest']?.['x-pubsub-namespace'], { pattern: 'big.>', historySize: 100, historyTtl: 5000, maxMessageBytes: 1024, clientPublish: true, presence: true, conflate: false })
  t.match(doc.channels['big.rest']?.description, /last 100 messages for 5000 ms\. Messages are at most 1024 bytes of JSON\.$/)
  t.notOk('maxMessageBytes' in (doc.channels.topics?.['x-pubsub-namespace'] as object), 'no limit of its own elsewhere')
})

t.test('a namespace schema that is not a JSON Schema makes an invalid document, which the parser sees', async (t) => {
  const doc = asyncApiDocument({ version: '1', namespaces: { 'bad.>': { schema: { type: 'strnig' } } }, defaults: DEFAULTS, ...ADDRESS })
  const { diagnostics } = await parser.parse(JSON.stringify(doc))
  t.ok(diagnostics.some((d) => d.severity === 0), 'an error diagnostic: the test above would catch a broken document')
})

import {
  AuthAckSchema, AuthRequest, ERROR_CODES, ErrorFrameSchema, MessageFrameSchema, PingRequest, PongFrameSchema,
  PublishAckSchema, PublishRequest, ResetFrameSchema, SseErrorData, SseResetData, SseSubscribedData, SubscribeAckSchema,
  SubscribeRequest, UnsubscribeAckSchema, UnsubscribeRequest, WelcomeFrameSchema, messageFrame, publishRequest
} from './frame-schemas.js'
import Type from 'typebox'
import type { NamespaceOptions } from './namespace.js'

// The WebSocket and SSE API as an AsyncAPI 3.0 document, from the frame
// schemas and the server's namespaces. Pure: the route (routes/asyncapi.ts)
// builds it once per app and adds the servers of each request.

export interface AsyncApiInput {
  /** The package's version. */
  version: string
  /** Keys are patterns (`chat.>`). */
  namespaces?: Readonly<Record<string, NamespaceOptions>>
  /** What a topic in no namespace (or a namespace that does not say) gets. */
  defaults: { historySize: number, historyTtl: number }
}

/** Where the request that asks for the document reached the server. */
export interface ServerAddress {
  /** `request.host`: the host name, and the port when not the default. */
  host: string
  /** HTTPS (wss), directly or behind a trusted proxy. */
  secure: boolean
  /** The plugin's mount prefix, `''` for none. */
  prefix: string
}

type Json = Record<string, unknown>

/** The document without `servers`: what depends on the app only. */
export interface AsyncApiDescription {
  asyncapi: '3.0.0'
  info: Json
  channels: Record<string, Json>
  operations: Record<string, Json>
  components: Json
}

export type AsyncApiDocument = AsyncApiDescription & { servers: Record<string, Json> }

const CLOSE_CODES = {
  1001: 'the server is shutting down (after every frame already queued)',
  1008: 'policy: sustained flooding past the rate limit, or (auth on) the token expired without an `auth` refresh',
  1009: 'a frame larger than twice `maxPayload`',
  1013: 'slow consumer: more than `maxBufferedBytes` left unread'
} as const

const ref = ($ref: string): { $ref: string } => ({ $ref })
const message = (name: string): { $ref: string } => ref(`#/components/messages/${name}`)

/** A JSON-pointer- and identifier-safe key for a pattern: `chat.>` → `chat.rest`, `user.*.inbox` → `user.star.inbox`. */
export function channelKey (pattern: string, taken: ReadonlySet<string>): string {
  const base = pattern.split('.').map((token) => token === '*' ? 'star' : token === '>' ? 'rest' : token.replace(/[^\w-]/g, '_')).join('.')
  let key = base
  for (let n = 2; taken.has(key); n++) key = `${base}-${n}`
  return key
}

function clientMessage (name: string, summary: string, payload: object): Json {
  return { name, title: `${name} request`, summary, contentType: 'application/json', payload }
}

function serverMessage (name: string, summary: string, payload: object): Json {
  return { name, summary, contentType: 'application/json', payload }
}

/** The frames of `/ws`, by message name. */
const WS_MESSAGES: Record<string, Json> = {
  subscribe: clientMessage('subscribe', 'Subscribe to a topic or pattern; `since` and `epoch` recover missed messages', SubscribeRequest),
  unsubscribe: clientMessage('unsubscribe', 'End a subscription (acked even when there was none)', UnsubscribeRequest),
  publish: clientMessage('publish', 'Publish a message to a concrete topic', PublishRequest),
  ping: clientMessage('ping', 'Answered with pong', PingRequest),
  auth: clientMessage('auth', 'Refresh the JWT of the connection (auth on); acknowledged and ignored without auth', AuthRequest),
  welcome: serverMessage('welcome', 'The first frame of every connection', WelcomeFrameSchema),
  subscribeAck: serverMessage('subscribeAck', 'A subscribe took effect; when recovering, the missed messages follow it', SubscribeAckSchema),
  unsubscribeAck: serverMessage('unsubscribeAck', 'An unsubscribe took effect: nothing more arrives through it', UnsubscribeAckSchema),
  publishAck: serverMessage('publishAck', 'A publish took effect, with its seq', PublishAckSchema),
  authAck: serverMessage('authAck', 'The new token is in force', AuthAckSchema),
  pong: serverMessage('pong', 'The reply to ping', PongFrameSchema),
  error: serverMessage('error', 'A request failed; the connection stays open', ErrorFrameSchema),
  message: serverMessage('message', 'A message on a subscribed topic, in seq order per topic', MessageFrameSchema),
  reset: serverMessage('reset', 'Messages of a subscription were lost and cannot be replayed; delivery goes on from seq in epoch', ResetFrameSchema)
}

/** The events of `/sse/{topic}`: `headers` stand for the event's `event:` and `id:` fields, `payload` for its `data:`. */
const SSE_MESSAGES: Record<string, Json> = {
  sseSubscribed: {
    name: 'subscribed',
    summary: 'The first event: the ack. Its id is the position the stream resumes from',
    contentType: 'application/json',
    headers: sseFields('subscribed'),
    payload: SseSubscribedData
  },
  sseMessage: {
    name: 'message',
    summary: 'An unnamed event (EventSource.onmessage) whose data is the WebSocket message frame, on one line',
    contentType: 'application/json',
    headers: sseFields(undefined),
    payload: MessageFrameSchema
  },
  sseReset: {
    name: 'reset',
    summary: 'Messages were lost; the id is where the stream goes on from',
    contentType: 'application/json',
    headers: sseFields('reset'),
    payload: SseResetData
  },
  sseError: {
    name: 'error',
    summary: 'A failure after the stream started; the stream ends after it',
    contentType: 'application/json',
    headers: sseFields('error'),
    payload: SseErrorData
  }
}

function sseFields (event: string | undefined): object {
  const id = Type.Optional(Type.String({ pattern: '^[^:]+:[0-9]+$', description: 'The `id:` field, `<epoch>:<seq>`, on a topic; sent back as Last-Event-ID to resume. None on a pattern' }))
  return event === undefined
    ? Type.Object({ id }, { not: { required: ['event'] }, description: 'No `event:` field: an unnamed event' })
    : Type.Object({ event: Type.Literal(event, { description: 'The `event:` field' }), id })
}

const WS_DESCRIPTION = [
  'Text frames of one JSON object each. A request has `action` and may have `id`, which its reply echoes; replies come in request order.',
  'A bad request is answered with an `error` frame and the connection stays open.',
  '',
  'Close codes:',
  '',
  ...Object.entries(CLOSE_CODES).map(([code, why]) => `- ${code}: ${why}`),
  '',
  'A client that does not answer the server\'s pings is terminated without a close frame. Auth on: the token goes in `?token=` or `Authorization: Bearer`.'
].join('\n')

/** The options a namespace's topics get, its own or the defaults. */
function effective (options: NamespaceOptions, defaults: AsyncApiInput['defaults']): Json {
  return {
    historySize: options.historySize ?? defaults.historySize,
    historyTtl: options.historyTtl ?? defaults.historyTtl,
    ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
    clientPublish: options.clientPublish ?? true,
    presence: options.presence ?? true,
    conflate: options.conflate ?? false
  }
}

function optionsText (options: Json): string {
  const { historySize, historyTtl, maxMessageBytes, clientPublish, presence, conflate } = options
  return [
    historySize === 0 ? 'No history: subscribe with `since` never recovers.' : `Each topic retains its last ${String(historySize)} messages for ${String(historyTtl)} ms.`,
    maxMessageBytes === undefined ? '' : `Messages are at most ${String(maxMessageBytes)} bytes of JSON.`,
    clientPublish === false ? 'WebSocket clients may not publish here (FORBIDDEN).' : '',
    presence === false ? 'No presence.' : '',
    conflate === true ? 'A subscriber that falls behind gets the latest message of each topic, with `skipped`, instead of a 1013 close.' : ''
  ].filter((line) => line !== '').join(' ')
}

/**
 * A topic channel: `message` frames whose data is `data`, and (when clients
 * may publish) `publish` requests whose message is `data`.
 */
function topicChannel (key: string, address: string, summary: string, data: Json, options: Json, pattern?: string): { channel: Json, operations: Record<string, Json>, messages: Record<string, Json> } {
  const clientPublish = options.clientPublish !== false
  const names = { message: `${key}.message`, publish: `${key}.publish` }
  const messages: Record<string, Json> = {
    [names.message]: serverMessage('message', `A message of ${pattern ?? 'a topic in no namespace'}, as a WebSocket \`message\` frame or an SSE message event`, messageFrame(Type.Unsafe(data)))
  }
  if (clientPublish) messages[names.publish] = clientMessage('publish', `A publish to ${pattern ?? 'a topic in no namespace'}`, publishRequest(Type.Unsafe(data)))
  const channel: Json = {
    address,
    title: pattern === undefined ? 'Topics in no namespace' : `Namespace ${pattern}`,
    summary,
    description: `Carried by the frames of /ws and the events of /sse/{topic}. ${optionsText(options)}`,
    messages: Object.fromEntries(Object.keys(messages).map((name) => [name.slice(key.length + 1), message(name)])),
    'x-pubsub-namespace': { pattern: pattern ?? null, ...options }
  }
  if (pattern === undefined) channel.parameters = { topic: { description: 'A concrete topic that no namespace pattern matches' } }
  const operations: Record<string, Json> = {
    [`${key}.deliver`]: {
      action: 'send',
      channel: ref(`#/channels/${key}`),
      summary: `Deliver each message to the subscribers of the topic (${pattern ?? 'no namespace'})`,
      messages: [ref(`#/channels/${key}/messages/message`)]
    }
  }
  if (clientPublish) {
    operations[`${key}.publish`] = {
      action: 'receive',
      channel: ref(`#/channels/${key}`),
      summary: `Take a client's publish (${pattern ?? 'no namespace'})`,
      messages: [ref(`#/channels/${key}/messages/publish`)]
    }
  }
  return { channel, operations, messages }
}

/** Requests of /ws, each with the frames that may answer it. */
const WS_REQUESTS: Array<[string, string[]]> = [
  ['subscribe', ['subscribeAck', 'error']],
  ['unsubscribe', ['unsubscribeAck', 'error']],
  ['publish', ['publishAck', 'error']],
  ['ping', ['pong', 'error']],
  ['auth', ['authAck', 'error']]
]

/** The document of an app, but its servers. */
export function describeAsyncApi ({ version, namespaces = {}, defaults }: AsyncApiInput): AsyncApiDescription {
  const channels: Record<string, Json> = {
    ws: {
      address: '/ws',
      title: 'WebSocket',
      servers: [ref('#/servers/websocket')],
      description: WS_DESCRIPTION,
      messages: Object.fromEntries(Object.keys(WS_MESSAGES).map((name) => [name, message(name)])),
      'x-close-codes': CLOSE_CODES
    },
    sse: {
      address: '/sse/{topic}',
      title: 'Server-Sent Events',
      servers: [ref('#/servers/http')],
      description: 'One topic or pattern (URL-encoded: `>` is `%3E`) as an event stream, for curl -N and EventSource. `retry: 1000` first; a `: ping` comment every `pingInterval`. Resume with the Last-Event-ID header or `?lastEventId=`. Errors before the stream starts are HTTP errors (400, 401, 403, 503).',
      parameters: { topic: { description: 'A topic or pattern, e.g. news.sports or news.%3E' } },
      messages: Object.fromEntries(Object.keys(SSE_MESSAGES).map((name) => [name, message(name)]))
    }
  }
  const operations: Record<string, Json> = {}
  for (const [request, replies] of WS_REQUESTS) {
    operations[request] = {
      action: 'receive',
      channel: ref('#/channels/ws'),
      messages: [ref(`#/channels/ws/messages/${request}`)],
      reply: { channel: ref('#/channels/ws'), messages: replies.map((name) => ref(`#/channels/ws/messages/${name}`)) }
    }
  }
  for (const name of ['welcome', 'message', 'reset', 'error']) {
    operations[`send.${name}`] = { action: 'send', channel: ref('#/channels/ws'), messages: [ref(`#/channels/ws/messages/${name}`)] }
  }
  operations['sse.stream'] = {
    action: 'send',
    channel: ref('#/channels/sse'),
    messages: Object.keys(SSE_MESSAGES).map((name) => ref(`#/channels/sse/messages/${name}`))
  }

  const messages: Record<string, Json> = { ...WS_MESSAGES, ...SSE_MESSAGES }
  const schemas: Record<string, Json> = { anyJson: { description: 'Any JSON value' } }
  const taken = new Set(['ws', 'sse', 'topics'])
  const topics: Array<{ key: string, address: string, summary: string, data: Json, options: Json, pattern?: string }> = []
  for (const [pattern, options] of Object.entries(namespaces)) {
    const key = channelKey(pattern, taken)
    taken.add(key)
    if (options.schema !== undefined) schemas[key] = options.schema
    topics.push({ key, address: pattern, summary: `The topics matching ${pattern}`, data: options.schema === undefined ? ref('#/components/schemas/anyJson') : ref(`#/components/schemas/${key}`), options: effective(options, defaults), pattern })
  }
  topics.push({ key: 'topics', address: '{topic}', summary: 'Every topic no namespace pattern matches: any JSON value, the server\'s defaults', data: ref('#/components/schemas/anyJson'), options: effective({}, defaults) })
  for (const { key, address, summary, data, options, pattern } of topics) {
    const described = topicChannel(key, address, summary, data, options, pattern)
    channels[key] = described.channel
    Object.assign(operations, described.operations)
    Object.assign(messages, described.messages)
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'fastify-pubsub',
      version,
      description: [
        'Publish/subscribe over WebSocket (`/ws`) and Server-Sent Events (`/sse/{topic}`): wire contract version 1.1.',
        'Topics are tokens separated by `.`; subscriptions may use `*` (one token) and a last `>` (one or more).',
        'A topic takes the options and message schema of the most specific namespace pattern matching it, else the defaults (channel `topics`).',
        `Error codes: ${Object.keys(ERROR_CODES).join(', ')}. Close codes: ${Object.keys(CLOSE_CODES).join(', ')}.`,
        'The REST routes are described by the OpenAPI document at `docs/json`, beside this document.'
      ].join('\n\n')
    },
    channels,
    operations,
    components: { schemas, messages }
  }
}

/** The whole document, as seen from `address`. */
export function withServers (description: AsyncApiDescription, { host, secure, prefix }: ServerAddress): AsyncApiDocument {
  const pathname = prefix === '' ? {} : { pathname: prefix }
  const { asyncapi, info, ...rest } = description
  return {
    asyncapi,
    info,
    servers: {
      websocket: { host, ...pathname, protocol: secure ? 'wss' : 'ws', description: 'The WebSocket endpoint' },
      http: { host, ...pathname, protocol: secure ? 'https' : 'http', description: 'Server-Sent Events' }
    },
    ...rest
  }
}

/** `describeAsyncApi` and `withServers` at once. */
export function asyncApiDocument (input: AsyncApiInput & ServerAddress): AsyncApiDocument {
  return withServers(describeAsyncApi(input), input)
}

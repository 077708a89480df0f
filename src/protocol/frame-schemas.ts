// The frames of frames.ts as JSON Schemas, for the AsyncAPI document
// (asyncapi.ts). The types stay frames.ts's (the SDK bundles those, and
// TypeBox must not reach the public .d.ts); the checks at the end of this
// file fail `tsc --noEmit` when a schema and its type part.
import Type, { type Static, type TSchema } from 'typebox'
import type { AckFrame, ClientFrame, ErrorFrame, MessageFrame, PongFrame, ResetFrame, ServerFrame, WelcomeFrame } from './frames.js'

/** The error codes of the wire contract (shared/PROTOCOL.md, version 1.1), each with when it is sent. */
export const ERROR_CODES = {
  BAD_JSON: 'the frame is not JSON, not a JSON object, or not valid UTF-8',
  BAD_REQUEST: 'a field is missing or of the wrong type (action, topic, message, since, epoch, id, key)',
  UNKNOWN_ACTION: '`action` names no action',
  INVALID_TOPIC: 'a topic or pattern that breaks the rules; a pattern given to publish',
  BAD_FRAME: 'a binary frame',
  TOO_MANY_SUBSCRIPTIONS: 'the connection holds `maxSubscriptions` subscriptions, or `maxSubscriptionBytes` of them',
  RATE_LIMITED: "the frame is over the connection's rate limit",
  FORBIDDEN: "outside the token's grants, a refused `auth`, or a publish to a namespace closed to clients",
  UNAVAILABLE: 'the engine cannot take the request now (closing, Redis away, an internal failure)',
  INVALID_MESSAGE: "(1.1) the message fails its namespace's schema; nothing is published"
} as const

export type ErrorCode = keyof typeof ERROR_CODES

const RequestId = Type.Union([Type.String({ maxLength: 64 }), Type.Number()], { description: 'Echoed by the reply: a number, or a string of at most 64 characters' })
const Topic = Type.String({ minLength: 1, maxLength: 256, description: 'Tokens separated by `.`, each of `A-Z a-z 0-9 _ - : @ ~ =`; 1 to 256 bytes' })
const Pattern = Type.String({ minLength: 1, maxLength: 256, description: 'A topic, or a pattern whose whole tokens may be `*` (one token) or a last `>` (one or more)' })
const Seq = Type.Integer({ minimum: 0, description: "A position in the topic's sequence: 1, 2, 3, … without gaps" })
const Epoch = Type.String({ description: 'The sequence the seq belongs to; changes when the sequence restarts' })
const RequestIdField = Type.Optional(RequestId)

// Client to server. Unknown fields are ignored, so no additionalProperties:
// false; but no `type`, the field of server frames: /ws carries both ways, and
// an ack (action, topic) would pass for its request otherwise. AsyncAPI wants
// every frame of a channel to match one message only.
const REQUEST = { not: { required: ['type'], description: 'A request has no `type`: that field names a server frame' } }

export const SubscribeRequest = Type.Object({
  action: Type.Literal('subscribe'),
  id: RequestIdField,
  topic: Pattern,
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'Recover: the last seq received; with `epoch`, replays every retained message after it' })),
  epoch: Type.Optional(Type.String({ description: 'The epoch of `since`' }))
}, REQUEST)

export const UnsubscribeRequest = Type.Object({
  action: Type.Literal('unsubscribe'),
  id: RequestIdField,
  topic: Type.String({ description: 'The topic or pattern exactly as subscribed' })
}, REQUEST)

/** A publish whose `message` is `message` (any JSON value by default, or a namespace's schema). */
export function publishRequest<T extends TSchema> (message: T) {
  return Type.Object({
    action: Type.Literal('publish'),
    id: RequestIdField,
    topic: Topic,
    message,
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: '(1.1) Idempotency key: a repeat within the window is answered with the first reply and `duplicate: true`' }))
  }, REQUEST)
}

export const PublishRequest = publishRequest(Type.Unknown({ description: 'Any JSON value (`null` is a value; a missing message is not)' }))

export const PingRequest = Type.Object({
  action: Type.Literal('ping'),
  id: RequestIdField
}, REQUEST)

export const AuthRequest = Type.Object({
  action: Type.Literal('auth'),
  id: RequestIdField,
  token: Type.String({ description: 'A fresh JWT for the same `sub`, before the current one expires' })
}, REQUEST)

// Server to client.

export const WelcomeFrameSchema = Type.Object({
  type: Type.Literal('welcome'),
  clientId: Type.String({ description: 'A nanoid, unique per connection' })
})

export const SubscribeAckSchema = Type.Object({
  type: Type.Literal('ack'),
  id: RequestIdField,
  action: Type.Literal('subscribe'),
  topic: Pattern,
  seq: Type.Optional(Type.Integer({ minimum: 0, description: "The topic's latest seq; absent for a pattern" })),
  epoch: Type.Optional(Epoch),
  recovered: Type.Optional(Type.Boolean({ description: 'When `since` was given: whether every message after it follows' }))
})

export const PublishAckSchema = Type.Object({
  type: Type.Literal('ack'),
  id: RequestIdField,
  action: Type.Literal('publish'),
  topic: Topic,
  seq: Seq,
  epoch: Type.Optional(Epoch),
  duplicate: Type.Optional(Type.Literal(true, { description: '(1.1) The key was used within the window: nothing was published' }))
})

export const UnsubscribeAckSchema = Type.Object({
  type: Type.Literal('ack'),
  id: RequestIdField,
  action: Type.Literal('unsubscribe'),
  topic: Type.String()
})

export const AuthAckSchema = Type.Object({
  type: Type.Literal('ack'),
  id: RequestIdField,
  action: Type.Literal('auth')
})

export const PongFrameSchema = Type.Object({
  type: Type.Literal('pong'),
  id: RequestIdField
})

export const ErrorFrameSchema = Type.Object({
  type: Type.Literal('error'),
  id: RequestIdField,
  code: Type.Enum(Object.keys(ERROR_CODES) as ErrorCode[], {
    description: Object.entries(ERROR_CODES).map(([code, when]) => `\`${code}\`: ${when}.`).join('\n')
  }),
  message: Type.String({ description: 'Human readable' })
})

/** A delivered message whose `data` is `data` (any JSON value by default, or a namespace's schema). */
export function messageFrame<T extends TSchema> (data: T) {
  return Type.Object({
    type: Type.Literal('message'),
    topic: Topic,
    subscription: Type.Optional(Type.String({ description: 'The pattern it matched through; absent for an exact subscription' })),
    data,
    seq: Seq,
    ts: Type.Integer({ description: 'Server time of the publish, ms since the Unix epoch' }),
    skipped: Type.Optional(Type.Integer({ minimum: 1, description: '(1.1) In a conflating namespace: messages of this topic the subscriber did not get before this one; seq jumps by skipped + 1, a declared gap, not a loss' }))
  })
}

export const MessageFrameSchema = messageFrame(Type.Unknown({ description: 'The published JSON value' }))

export const ResetFrameSchema = Type.Object({
  type: Type.Literal('reset'),
  topic: Pattern,
  seq: Type.Optional(Type.Integer({ minimum: 0, description: 'Where live delivery goes on: the next message has a higher seq' })),
  epoch: Type.Optional(Epoch)
})

// Server-Sent Events of GET /sse/:topic: each event's data. A message event's
// data is MessageFrameSchema; these have no TypeScript type of their own.

export const SseSubscribedData = Type.Object({
  clientId: Type.String({ description: 'Also listed in presence' }),
  topic: Pattern,
  seq: Type.Optional(Type.Integer({ minimum: 0, description: "The topic's latest seq; absent for a pattern" })),
  epoch: Type.Optional(Epoch),
  recovered: Type.Optional(Type.Boolean({ description: 'When resuming (Last-Event-ID): whether every message after it follows' }))
})

export const SseResetData = Type.Object({
  topic: Pattern,
  seq: Type.Optional(Type.Integer({ minimum: 0 })),
  epoch: Type.Optional(Epoch)
})

export const SseErrorData = Type.Object({
  code: Type.Enum(Object.keys(ERROR_CODES) as ErrorCode[]),
  message: Type.String()
})

// Each schema says what its frames.ts type says. ErrorFrame's `code` is a
// string there (the server sends whatever wireCode gives); here it is the
// contract's enum, so that one is checked one way.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Assignable<A, B> = [A] extends [B] ? true : false
type Request<A extends ClientFrame['action']> = Extract<ClientFrame, { action: A }>
type Ack<A extends AckFrame['action']> = Extract<AckFrame, { action: A }>
const schemasMatchFrames: [
  Same<Static<typeof SubscribeRequest>, Request<'subscribe'>>,
  Same<Static<typeof UnsubscribeRequest>, Request<'unsubscribe'>>,
  Same<Static<typeof PublishRequest>, Request<'publish'>>,
  Same<Static<typeof PingRequest>, Request<'ping'>>,
  Same<Static<typeof AuthRequest>, Request<'auth'>>,
  Same<Static<typeof WelcomeFrameSchema>, WelcomeFrame>,
  Same<Static<typeof SubscribeAckSchema>, Ack<'subscribe'>>,
  Same<Static<typeof PublishAckSchema>, Ack<'publish'>>,
  Same<Static<typeof UnsubscribeAckSchema>, Ack<'unsubscribe'>>,
  Same<Static<typeof AuthAckSchema>, Ack<'auth'>>,
  Same<Static<typeof PongFrameSchema>, PongFrame>,
  Same<Omit<Static<typeof ErrorFrameSchema>, 'code'>, Omit<ErrorFrame, 'code'>>,
  Assignable<Static<typeof ErrorFrameSchema>, ErrorFrame>,
  Same<Static<typeof MessageFrameSchema>, MessageFrame>,
  Same<Static<typeof ResetFrameSchema>, ResetFrame>,
  // Every action has its request schema above.
  Same<ClientFrame['action'], Static<typeof SubscribeRequest | typeof UnsubscribeRequest | typeof PublishRequest | typeof PingRequest | typeof AuthRequest>['action']>,
  // And every server frame its schema.
  Same<ServerFrame['type'], Static<typeof WelcomeFrameSchema | typeof SubscribeAckSchema | typeof PongFrameSchema | typeof ErrorFrameSchema | typeof MessageFrameSchema | typeof ResetFrameSchema>['type']>
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true]
void schemasMatchFrames

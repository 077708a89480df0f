// The frames of the WebSocket API (../../docs/protocol.md), as types: the
// server builds them and the SDK parses them, so a frame the contract lacks
// stops compiling on both sides.

// Types only, and no import from request.ts (node:buffer): the SDK bundles
// this file for browsers.

/** The request id a reply echoes. */
export type RequestId = string | number

/** `action` of a client frame, and of the `ack` that answers it. */
export type Action = 'subscribe' | 'unsubscribe' | 'publish' | 'ping' | 'auth'

/** Every frame a client sends, as parseRequest (request.ts) returns it. */
export type ClientFrame =
  | { action: 'subscribe', id?: RequestId, topic: string, since?: number, epoch?: string }
  | { action: 'unsubscribe', id?: RequestId, topic: string }
  | { action: 'publish', id?: RequestId, topic: string, message: unknown, key?: string }
  | { action: 'ping', id?: RequestId }
  | { action: 'auth', id?: RequestId, token: string }

/** The first frame of every connection. */
export interface WelcomeFrame {
  type: 'welcome'
  clientId: string
}

export interface SubscribeAck {
  type: 'ack'
  id?: RequestId
  action: 'subscribe'
  topic: string
  /** The topic's latest seq; absent for a pattern. */
  seq?: number
  epoch?: string
  /** Present when the subscribe asked to recover (`since`). */
  recovered?: boolean
}

export interface PublishAck {
  type: 'ack'
  id?: RequestId
  action: 'publish'
  topic: string
  seq: number
  /** A keyed publish's ack names its epoch, so that a resend can be matched with the first. */
  epoch?: string
  /** The key was used within the idempotency window: nothing was published. */
  duplicate?: true
}

export interface UnsubscribeAck {
  type: 'ack'
  id?: RequestId
  action: 'unsubscribe'
  topic: string
}

export interface AuthAck {
  type: 'ack'
  id?: RequestId
  action: 'auth'
}

export type AckFrame = SubscribeAck | PublishAck | UnsubscribeAck | AuthAck

export interface PongFrame {
  type: 'pong'
  id?: RequestId
}

export interface ErrorFrame {
  type: 'error'
  id?: RequestId
  /** The contract's error code, such as `INVALID_TOPIC`. */
  code: string
  message: string
}

/** A published message (encoded by `messageJson` in frame.ts, never by JSON.stringify). */
export interface MessageFrame {
  type: 'message'
  topic: string
  /** The pattern it matched through; absent for an exact subscription. */
  subscription?: string
  data: unknown
  seq: number
  ts: number
  /** (1.1) In a conflating namespace: messages of this topic the subscriber did not get before this one; its seq jumps by `skipped + 1`. */
  skipped?: number
}

/** Messages of `topic` (a topic or pattern) may have been lost; live delivery goes on from `seq` in `epoch`. */
export interface ResetFrame {
  type: 'reset'
  topic: string
  seq?: number
  epoch?: string
}

/** Every frame the server sends. */
export type ServerFrame = WelcomeFrame | AckFrame | PongFrame | ErrorFrame | MessageFrame | ResetFrame

// The frames of the WebSocket API (../../docs/protocol.md), as types: the
// server builds them and the SDK parses them, so a frame the contract lacks
// stops compiling on both sides.

import type { RequestId } from './request.js'

/** `action` of a client frame, and of the `ack` that answers it. */
export type Action = 'subscribe' | 'unsubscribe' | 'publish' | 'ping' | 'auth'

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

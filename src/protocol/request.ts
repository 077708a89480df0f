import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import {
  clip,
  PUBSUB_ERR_BAD_FRAME,
  PUBSUB_ERR_BAD_JSON,
  PUBSUB_ERR_BAD_REQUEST,
  PUBSUB_ERR_UNKNOWN_ACTION
} from './errors.js'
import type { ClientFrame, RequestId } from './frames.js'
import { isIdempotencyKey, MAX_KEY_LENGTH } from './idempotency.js'

export type { RequestId } from './frames.js'

/** A checked client frame (the union lives in frames.ts, which the SDK shares). */
export type Request = ClientFrame

/** Thrown by parseRequest: the error, and the id to echo when the frame had a valid one. */
export class RequestError extends Error {
  readonly error: Error & { code: string }
  readonly id: RequestId | undefined

  constructor (error: Error & { code: string }, id?: RequestId) {
    super(error.message)
    this.error = error
    this.id = id
  }
}

const MAX_ID_LENGTH = 64

/**
 * Parses and checks one text frame against the wire contract. Throws a
 * RequestError carrying BAD_JSON, BAD_REQUEST or UNKNOWN_ACTION. Topic rules
 * are the broker's to check.
 */
export function parseRequest (text: string): Request {
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    throw new RequestError(new PUBSUB_ERR_BAD_JSON())
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    throw new RequestError(new PUBSUB_ERR_BAD_JSON())
  }
  const fields = frame as Record<string, unknown>
  const id = fields.id
  if (!isRequestId(id)) {
    throw new RequestError(new PUBSUB_ERR_BAD_REQUEST(`'id' must be a finite number or a string of at most ${MAX_ID_LENGTH} characters`))
  }
  const action = fields.action
  const fail = (message: string): never => { throw new RequestError(new PUBSUB_ERR_BAD_REQUEST(message), id) }
  if (typeof action !== 'string') return fail("'action' must be a string")

  switch (action) {
    case 'ping':
      return { action, id }
    case 'auth': {
      const token = fields.token
      if (typeof token !== 'string' || token === '') fail("'token' must be a non-empty string")
      return { action, id, token: token as string }
    }
    case 'subscribe': {
      const topic = requireTopic(fields, fail)
      const { since, epoch } = fields
      if (since !== undefined && !(Number.isSafeInteger(since) && (since as number) >= 0)) fail("'since' must be an integer >= 0")
      if (epoch !== undefined && typeof epoch !== 'string') fail("'epoch' must be a string")
      return { action, id, topic, since: since as number | undefined, epoch: epoch as string | undefined }
    }
    case 'unsubscribe':
      return { action, id, topic: requireTopic(fields, fail) }
    case 'publish': {
      const topic = requireTopic(fields, fail)
      if (!('message' in fields)) fail("'message' is required (null is a value)")
      // Top-level unknown fields are ignored, but a message travels on to other
      // clients: refuse what Fastify refuses in bodies (prototype poisoning).
      if (mayPoison(text) && !isSafe(fields.message)) fail("'message' has a __proto__ or constructor.prototype key")
      const key = fields.key
      if (key !== undefined && !isIdempotencyKey(key)) fail(`'key' must be a string of 1 to ${MAX_KEY_LENGTH} characters`)
      return { action, id, topic, message: fields.message, key: key as string | undefined }
    }
    default:
      throw new RequestError(new PUBSUB_ERR_UNKNOWN_ACTION(clip(action)), id)
  }
}

export function isRequestId (id: unknown): id is RequestId | undefined {
  // JSON.parse turns 1e400 into Infinity, which JSON.stringify would echo as null.
  return id === undefined || (typeof id === 'string' && id.length <= MAX_ID_LENGTH) || (typeof id === 'number' && Number.isFinite(id))
}

function mayPoison (text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor')
}

function isSafe (value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true
  try {
    sjson.scan(value, { protoAction: 'error', constructorAction: 'error' })
    return true
  } catch {
    // Poisoned, or nested deeper than the scan's stack.
    return false
  }
}

function requireTopic (fields: Record<string, unknown>, fail: (message: string) => never): string {
  const topic = fields.topic
  if (typeof topic !== 'string') fail("'topic' must be a string")
  return topic as string
}

/** One frame as a request; throws RequestError (with the id when known) for a bad one. */
export function parseFrame (data: Buffer, isBinary: boolean): Request {
  if (isBinary) throw new RequestError(new PUBSUB_ERR_BAD_FRAME())
  // ws leaves UTF-8 to us (skipUTF8Validation), so that bad text is an
  // error frame rather than a close with 1007.
  if (!isUtf8(data)) throw new RequestError(new PUBSUB_ERR_BAD_JSON())
  return parseRequest(data.toString())
}

/** The id of a refused frame, so that its RATE_LIMITED error carries it; parsed only that far. */
export function requestIdOf (data: Buffer): RequestId | undefined {
  try {
    const id: unknown = (JSON.parse(data.toString()) as { id?: unknown } | null)?.id
    return isRequestId(id) ? id : undefined
  } catch {
    return undefined
  }
}

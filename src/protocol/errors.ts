import { createError } from '@fastify/error'

// Every error the project raises, one constructor per code. The part after
// `PUBSUB_ERR_` is the code of the wire contract (shared/PROTOCOL.md), sent in
// WebSocket error frames; over HTTP Fastify's error shape carries the full code.

export const PUBSUB_ERR_BAD_JSON = createError('PUBSUB_ERR_BAD_JSON', 'Frame is not a JSON object', 400)
export const PUBSUB_ERR_BAD_REQUEST = createError('PUBSUB_ERR_BAD_REQUEST', '%s', 400)
export const PUBSUB_ERR_UNKNOWN_ACTION = createError('PUBSUB_ERR_UNKNOWN_ACTION', "Unknown action '%s'", 400)
export const PUBSUB_ERR_INVALID_TOPIC = createError('PUBSUB_ERR_INVALID_TOPIC', "Invalid topic '%s'", 400)
export const PUBSUB_ERR_BAD_FRAME = createError('PUBSUB_ERR_BAD_FRAME', 'Binary frames are not supported; send JSON text', 400)
export const PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS = createError('PUBSUB_ERR_TOO_MANY_SUBSCRIPTIONS', '%s', 429)
export const PUBSUB_ERR_RATE_LIMITED = createError('PUBSUB_ERR_RATE_LIMITED', 'Too many requests', 429)
export const PUBSUB_ERR_FORBIDDEN = createError('PUBSUB_ERR_FORBIDDEN', '%s', 403)
export const PUBSUB_ERR_UNAVAILABLE = createError('PUBSUB_ERR_UNAVAILABLE', '%s', 503)
// Version 1.1: a message that fails its namespace's schema; nothing is published.
export const PUBSUB_ERR_INVALID_MESSAGE = createError('PUBSUB_ERR_INVALID_MESSAGE', '%s', 400)

// HTTP only: never in a WebSocket frame.
export const PUBSUB_ERR_TOPIC_NOT_FOUND = createError('PUBSUB_ERR_TOPIC_NOT_FOUND', "Topic '%s' has no subscribers and no retained messages", 404)
export const PUBSUB_ERR_BAD_CURSOR = createError('PUBSUB_ERR_BAD_CURSOR', 'Invalid cursor', 400)
// Missing or invalid credentials: a refused upgrade or request, never a frame.
export const PUBSUB_ERR_UNAUTHORIZED = createError('PUBSUB_ERR_UNAUTHORIZED', '%s', 401)

// A programmer's mistake in options: thrown at registration.
export const PUBSUB_ERR_OPTION = createError('PUBSUB_ERR_OPTION', "Invalid option '%s': %j (%s)", 500, TypeError)

/** The wire code of an error raised by this project, e.g. `INVALID_TOPIC`. */
export function wireCode (err: object): string | undefined {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('PUBSUB_ERR_')
    ? code.slice('PUBSUB_ERR_'.length)
    : undefined
}

/**
 * `text` cut to its first `n` characters: an error message that echoes
 * client input stays short, however long the input.
 */
export function clip (text: string, n = 64): string {
  return text.slice(0, n)
}

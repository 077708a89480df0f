// The contract's rule for idempotency keys, in one place for WebSocket, REST and the in-process API.

/** Longest idempotency key, in characters. */
export const MAX_KEY_LENGTH = 64

/** True for a valid idempotency key: a string of 1 to MAX_KEY_LENGTH characters. */
export function isIdempotencyKey (key: unknown): key is string {
  return typeof key === 'string' && key.length >= 1 && key.length <= MAX_KEY_LENGTH
}

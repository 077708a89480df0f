/**
 * Codes the client gives to failures of its own, beside the server's codes
 * (`INVALID_TOPIC`, `RATE_LIMITED`, … from the wire contract).
 */
export type ClientErrorCode =
  /** No reply within `requestTimeout`. */
  | 'TIMEOUT'
  /** The connection dropped after the request was sent: it may or may not have been applied. */
  | 'DISCONNECTED'
  /** `close()` was called, or reconnecting gave up. */
  | 'CLOSED'
  /** Not connected, and `maxQueued` requests already wait for the connection. */
  | 'QUEUE_FULL'
  /** The subscription was removed before the server acknowledged it. */
  | 'UNSUBSCRIBED'
  /** The connection could not be opened, or the server sent something unreadable. */
  | 'CONNECTION'
  /** A message handler threw; `cause` holds what it threw. */
  | 'HANDLER'
  /** (thrown by the constructor, on a `TypeError`) An option is missing or out of range. */
  | 'OPTION'

/** Every error the client rejects with or emits: `code` is stable, `message` is for people. */
export class PubsubClientError extends Error {
  readonly code: string

  constructor (code: ClientErrorCode | (string & {}), message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PubsubClientError'
    this.code = code
  }
}

/**
 * A bad option, thrown by the constructor: a `TypeError`, as JavaScript
 * throws for a bad argument (and the server's PUBSUB_ERR_OPTION is), with
 * the client's stable code `OPTION`.
 */
export function optionError (message: string): TypeError & { code: 'OPTION' } {
  return Object.assign(new TypeError(message), { code: 'OPTION' as const })
}

// The SDK's public types: its options, what handlers and acks look like, its
// events. fastify-pubsub/client re-exports them (index.ts).
import type { ReconnectOptions } from './backoff.js'
import type { PubsubClientError } from './errors.js'

/** What the client needs of a WebSocket: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  onopen: ((event: any) => void) | null
  onmessage: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Returns a token for the next connection, or to refresh the current one before it expires. */
export type TokenProvider = () => string | Promise<string>

export interface ClientOptions {
  /** The server's WebSocket URL, e.g. `ws://localhost:8080/ws`. */
  url: string
  /** A WebSocket class; defaults to the global one (browsers, Node 22+). In Node 20 pass `ws`. */
  WebSocket?: WebSocketConstructor
  /** A request without a reply after this many ms rejects with `TIMEOUT`. Default 10000. */
  requestTimeout?: number
  /** Reconnect timing, or `false` to stay closed once the connection drops. */
  reconnect?: Partial<ReconnectOptions> | false
  /** Requests made while not connected wait for the connection, up to this many; then `QUEUE_FULL`. Default 100; 0 rejects them at once. */
  maxQueued?: number
  /**
   * A JWT for servers with auth on (sent as `?token=`), or a function that
   * returns one: called before every connection, and again before the
   * token's `exp` to refresh the open connection (`auth` frame).
   */
  token?: string | TokenProvider
}

/** A message as handlers receive it. */
export interface PubsubMessage<T = unknown> {
  topic: string
  data: T
  seq: number
  ts: number
  /** The pattern this handler subscribed to, when it has wildcards. */
  subscription?: string
  /**
   * In a conflating namespace, after this client fell behind: how many
   * messages of the topic it did not get before this one (seq jumps by
   * `skipped + 1`). A declared gap: nothing is recovered for it.
   */
  skipped?: number
}

export type MessageHandler<T = unknown> = (message: PubsubMessage<T>) => void

export interface SubscribeAck {
  topic: string
  seq?: number
  epoch?: string
  recovered?: boolean
}

export interface PublishAck {
  topic: string
  seq: number
  /** The key was used before (a resend after a reconnect): this is the first publish's ack, nothing was published again. */
  duplicate?: true
}

export interface PublishOptions {
  /**
   * The idempotency key (1 to 64 characters). By default each publish gets a
   * random one, so that a publish resent after a reconnect is never applied
   * twice; pass your own to deduplicate across clients or restarts.
   */
  key?: string
}

/** Call it to remove the handler; `ready` settles with the server's first ack. */
export type Subscription = (() => Promise<void>) & {
  readonly topic: string
  readonly ready: Promise<SubscribeAck>
}

/** What the `recovery` event says about one subscription. */
export interface RecoveryEvent {
  /** The subscription: a topic, or a pattern as subscribed. */
  topic: string
  /** True: nothing was missed (the replay follows). False: messages may be missing, refetch what you build from them. */
  recovered: boolean
  /**
   * `'pattern'`: a pattern subscription came back after a reconnect and
   * resumed live. The server replays exact topics only (a pattern's ack says
   * `recovered: false`), so messages of its topics published while the
   * client was away are missing. Absent on the events of exact topics and
   * on a server's `reset`.
   */
  reason?: 'pattern'
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface ClientEvents {
  /** The socket opened; `welcome` follows. */
  open: undefined
  /** The server greeted this connection; subscriptions are being restored and queued requests sent. */
  welcome: { clientId: string }
  /** The socket closed (`code` 1006 when it dropped). */
  close: { code: number, reason: string }
  /** The next attempt starts after `delay` ms. */
  reconnecting: { attempt: number, delay: number }
  /**
   * A resubscription after a reconnect (or after a gap in a topic's seqs)
   * asked for what was missed: `recovered` false means messages may have
   * been lost (refetch state), true that none were. The server also says
   * `recovered: false` on its own when it lost messages it cannot replay, or
   * the topic's sequence restarted. A pattern is told after every reconnect,
   * with `reason: 'pattern'`: it resumed live, without what was missed.
   */
  recovery: RecoveryEvent
  /** Something failed that no promise reports: the connection, a handler, a refused resubscription. */
  error: PubsubClientError
}

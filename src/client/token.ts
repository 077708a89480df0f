// The `token` option: the token each connection opens with, and, from a
// provider, a fresh one sent on the open connection before the current one
// expires, so that the server does not close it with 1008.
import { MAX_INT32 } from '../protocol/limits.js'
import { PubsubClientError } from './errors.js'
import type { TokenProvider } from './types.js'

export interface TokensOptions {
  /** Sends a refreshed token on the open connection (an `auth` request). */
  refresh: (token: string) => Promise<unknown>
  /** Reports a refresh that failed; the connection goes on with the token it has. */
  onError: (error: PubsubClientError) => void
}

export class Tokens {
  readonly #source: string | TokenProvider
  readonly #refresh: (token: string) => Promise<unknown>
  readonly #onError: (error: PubsubClientError) => void
  /** The token of the current connection attempt. */
  #current: string | undefined
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor (source: string | TokenProvider, options: TokensOptions) {
    this.#source = source
    this.#refresh = options.refresh
    this.#onError = options.onError
  }

  /** The token to open the next connection with; rejects with `CONNECTION` when the provider fails. */
  async next (): Promise<string> {
    try {
      this.#current = typeof this.#source === 'function' ? await this.#source() : this.#source
    } catch (error) {
      throw new PubsubClientError('CONNECTION', `the token provider failed: ${(error as Error).message}`, { cause: error })
    }
    return this.#current
  }

  /**
   * With a provider: a fresh token is sent on the open connection a little
   * before `token` expires (a fifth of its remaining life, at most 30 s,
   * early). Called at the welcome, with the token the connection opened with.
   */
  schedule (token = this.#current): void {
    this.cancel()
    const expiresAt = typeof this.#source === 'function' ? expiryOf(token) : undefined
    if (expiresAt === undefined) return
    const left = expiresAt - Date.now()
    this.#timer = setTimeout(() => { void this.#refreshNow() }, Math.min(MAX_INT32, Math.max(0, left - Math.min(30_000, left / 5))))
  }

  /** Stops the refresh: the connection closed, or the client did. */
  cancel (): void {
    clearTimeout(this.#timer)
  }

  async #refreshNow (): Promise<void> {
    try {
      const token = await (this.#source as TokenProvider)()
      await this.#refresh(token)
      this.schedule(token)
    } catch (error) {
      this.#onError(new PubsubClientError('CONNECTION', `token refresh failed: ${(error as Error).message}`, { cause: error }))
    }
  }
}

/** A JWT's `exp` in ms, read without verifying (the server verifies); undefined when there is none. */
function expiryOf (token: string | undefined): number | undefined {
  try {
    const payload = (token as string).split('.')[1] as string
    const exp = (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown }).exp
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

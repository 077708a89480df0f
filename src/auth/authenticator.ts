import { createPublicKey, timingSafeEqual, type JsonWebKey } from 'node:crypto'
import { createDecoder, createVerifier, type Algorithm } from 'fast-jwt'
import { PUBSUB_ERR_OPTION, PUBSUB_ERR_UNAUTHORIZED } from '../protocol/errors.js'
import { positiveInteger } from '../pubsub/options.js'
import { isPattern } from '../protocol/topic.js'
import { compileGrants, type Grants } from './grants.js'

/** How tokens are checked. One of `secret`, `publicKey` or `jwks` turns auth on. */
export interface AuthOptions {
  /** HS256 shared secret. */
  secret?: string
  /** PEM of an RSA (RS256) or EC P-256 (ES256) public key. */
  publicKey?: string
  /** A JWK set (RSA or EC P-256 keys, chosen by the token's `kid`). */
  jwks?: { keys: JsonWebKey[] }
  /** A static key for backend publishers over REST (`Authorization: Bearer <key>`): may publish anywhere. */
  apiKey?: string
  /** Seconds of clock skew tolerated on `exp` and `nbf` (default 0). */
  clockTolerance?: number
  /** Grants a token may carry, `subscribe` and `publish` together (default 1,000); a token with more is refused (401). */
  maxGrants?: number
}

/** Who is on the other end, from a verified token. */
export interface Identity extends Grants {
  sub: string
  /** When the token expires, ms since the Unix epoch; undefined when it has no `exp`. */
  expiresAt: number | undefined
}

type Verify = (token: string) => Record<string, unknown>

const API_KEY_IDENTITY: Identity = compileGrants(Object.freeze({ sub: 'api-key', subscribe: Object.freeze([]), publish: Object.freeze(['>']), expiresAt: undefined }))

/** Whether `identity` is the API key's (the application's own credential), not a client's token. */
export function isApiKey (identity: Identity): boolean {
  return identity === API_KEY_IDENTITY
}

/**
 * Verifies JWTs with fast-jwt (the library under @fastify/jwt): signature,
 * an allowlisted algorithm per key (a token signed otherwise is refused, the
 * `none` algorithm included), `exp` and `nbf`. Keys are read once.
 */
export class Authenticator {
  readonly #verify: Verify
  readonly #apiKey: Buffer | undefined
  readonly #toleranceMs: number
  readonly #maxGrants: number
  /** Identities by the claims fast-jwt's cache hands back: a token's grants are checked and compiled once. */
  readonly #identities = new WeakMap<object, Identity>()

  constructor (options: AuthOptions) {
    const sources = (['secret', 'publicKey', 'jwks'] as const).filter((source) => options[source] !== undefined)
    if (sources.length !== 1) throw new PUBSUB_ERR_OPTION('auth', sources, 'exactly one of secret, publicKey, jwks')
    this.#toleranceMs = (options.clockTolerance ?? 0) * 1000
    this.#maxGrants = options.maxGrants ?? 1000
    positiveInteger('auth.maxGrants', this.#maxGrants, 0)
    const common = { clockTolerance: this.#toleranceMs, cache: true }
    if (options.secret !== undefined) assertStrongSecret(options.secret)
    try {
      if (options.secret !== undefined) {
        this.#verify = createVerifier({ ...common, key: options.secret, algorithms: ['HS256'] })
      } else if (options.publicKey !== undefined) {
        this.#verify = createVerifier({ ...common, key: options.publicKey, algorithms: [algorithmOf(options.publicKey)] })
      } else {
        this.#verify = jwksVerifier((options.jwks as { keys: JsonWebKey[] }).keys, common)
      }
    } catch (err) {
      throw new PUBSUB_ERR_OPTION('auth', (err as Error).message, 'an RSA or EC P-256 public key (PEM), or a JWK set of them')
    }
    this.#apiKey = options.apiKey === undefined ? undefined : Buffer.from(options.apiKey)
  }

  /** The identity a token proves; throws PUBSUB_ERR_UNAUTHORIZED saying why not. */
  verify (token: string): Identity {
    let claims: Record<string, unknown>
    try {
      claims = this.#verify(token)
    } catch (err) {
      throw new PUBSUB_ERR_UNAUTHORIZED(`invalid token: ${(err as Error).message}`)
    }
    const known = this.#identities.get(claims)
    if (known !== undefined) return known
    const sub = claims.sub
    if (typeof sub !== 'string' || sub === '') throw new PUBSUB_ERR_UNAUTHORIZED('invalid token: no sub')
    const grants = claims.pubsub as Partial<Record<keyof Grants, unknown>> | undefined
    // Every entry counts, malformed ones too: each costs a check here.
    const count = length(grants?.subscribe) + length(grants?.publish)
    if (count > this.#maxGrants) throw new PUBSUB_ERR_UNAUTHORIZED(`invalid token: ${count} grants, more than the ${this.#maxGrants} allowed`)
    const identity: Identity = compileGrants(Object.freeze({
      sub,
      subscribe: Object.freeze(patterns(grants?.subscribe)),
      publish: Object.freeze(patterns(grants?.publish)),
      // The same tolerance as the check: a token just accepted is not closed at once.
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 + this.#toleranceMs : undefined
    }))
    this.#identities.set(claims, identity)
    return identity
  }

  /** A REST caller's identity: the API key, or a token. */
  verifyBearer (token: string): Identity {
    if (this.#apiKey !== undefined) {
      const given = Buffer.from(token)
      if (given.length === this.#apiKey.length && timingSafeEqual(given, this.#apiKey)) return API_KEY_IDENTITY
    }
    return this.verify(token)
  }
}

function length (value: unknown): number {
  return Array.isArray(value) ? value.length : 0
}

/** Grant lists as given, keeping only valid patterns: a malformed grant grants nothing. */
function patterns (value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string' && isPattern(item)) : []
}

function algorithmOf (key: string | JsonWebKey): Algorithm {
  const type = typeof key === 'string' ? createPublicKey(key).asymmetricKeyType : createPublicKey({ key, format: 'jwk' }).asymmetricKeyType
  if (type === 'rsa') return 'RS256'
  if (type === 'ec') return 'ES256'
  throw new Error(`a ${String(type)} key`)
}

/** One verifier per key of the set, picked by the token header's `kid`. */
function jwksVerifier (keys: JsonWebKey[], common: { clockTolerance: number, cache: boolean }): Verify {
  const byKid = new Map<string, Verify>()
  for (const jwk of keys) {
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
    byKid.set(String(jwk.kid), createVerifier({ ...common, key: pem, algorithms: [algorithmOf(jwk)] }))
  }
  const decode = createDecoder({ complete: true })
  return (token) => {
    const verify = byKid.get(String((decode(token) as { header: { kid?: unknown } }).header.kid))
    if (verify === undefined) throw new Error('no key with this kid')
    return verify(token)
  }
}

/**
 * An HS256 key shorter than the hash (32 bytes) can be guessed offline from
 * any one token (RFC 7518 §3.2, RFC 8725 §3.5).
 */
export const SHORT_SECRET = 'an HS256 secret of at least 32 bytes (`openssl rand -hex 32` makes one)'

/** Whether `secret` is long enough for HS256 (32 bytes of UTF-8 or more). */
export function isStrongSecret (secret: string): boolean {
  return Buffer.byteLength(secret, 'utf8') >= 32
}

/** The error names the secret's length, never the secret: it ends up in logs. */
function assertStrongSecret (secret: string): void {
  if (!isStrongSecret(secret)) throw new PUBSUB_ERR_OPTION('auth.secret', `${Buffer.byteLength(secret, 'utf8')} bytes`, SHORT_SECRET)
}

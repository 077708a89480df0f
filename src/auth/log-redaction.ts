import type { FastifyRequest } from 'fastify'

/**
 * What a `req` log serializer writes: Fastify's default fields, the URL
 * redacted. A type, not an interface, so that it fits Fastify's serializer
 * type (an index signature).
 */
export type SerializedRequest = {
  method: string
  url: string
  version: string | undefined
  host: string
  remoteAddress: string
  remotePort: number | undefined
}

// A parameter starts after any of ? & ; # (a host router may take `;` as a
// query delimiter, and a '#' a client sent is worth masking too) and its
// value runs to the next '&', so a token with ';' or '#' in it is masked whole.
const PARAM = /([?&;#])([^=?&;#]*)=([^&]*)/g

/** The parameter's name as the query parser reads it; a malformed one stays as sent, as fast-querystring keeps it. */
function paramName (raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '))
  } catch {
    return raw
  }
}

/**
 * A URL fit for logs: the value of every `token` query parameter (the name
 * also percent-encoded, `%74oken`) replaced with `[redacted]`; the rest kept.
 *
 * @example
 * redactToken('/ws?token=eyJhbGciOi&since=3') // '/ws?token=[redacted]&since=3'
 */
export function redactToken (url: string): string {
  return url.replace(PARAM, (_param: string, start: string, name: string, value: string) => paramName(name) === 'token'
    ? `${start}${name}=[redacted]`
    // A value the router would cut at '#' may still hold `#token=…`.
    : `${start}${name}=${redactToken(value)}`)
}

/**
 * A `req` log serializer that logs what Fastify's default one does, with
 * the URL passed through {@link redactToken}. The plugin's own routes use
 * it; a host app passes it for its routes too.
 *
 * @example
 * const app = Fastify({ logger: { serializers: { req: requestSerializer } } })
 */
export function requestSerializer (request: FastifyRequest): SerializedRequest {
  return {
    method: request.method,
    url: redactToken(request.url),
    // Node joins a repeated header it does not know with ', ': a string.
    version: request.headers['accept-version'] as string | undefined,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

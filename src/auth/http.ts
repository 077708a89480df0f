import type { FastifyRequest } from 'fastify'
import { PUBSUB_ERR_UNAUTHORIZED } from '../protocol/errors.js'
import type { Authenticator, Identity } from './authenticator.js'

/**
 * The token of a request: `Authorization: Bearer <token>`, or `?token=` for
 * what cannot set headers (a browser's WebSocket, EventSource).
 */
export function requestToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined && /^bearer /i.test(header)) return header.slice(7).trim()
  const query = request.query as { token?: unknown } | undefined
  return typeof query?.token === 'string' ? query.token : undefined
}

/** The caller's identity; throws 401 PUBSUB_ERR_UNAUTHORIZED without a valid token (or API key). */
export function authenticate (authenticator: Authenticator, request: FastifyRequest): Identity {
  const token = requestToken(request)
  if (token === undefined || token === '') throw new PUBSUB_ERR_UNAUTHORIZED('missing token: send Authorization: Bearer <token>')
  return authenticator.verifyBearer(token)
}

import type { FastifyReply, FastifyRequest } from 'fastify'
import { redactToken } from '../auth/log-redaction.js'

/**
 * Fastify's own 404, with the URL's token masked. Fastify's puts the raw URL
 * into its log message ("Route GET:/x?token=… not found", lib/four-oh-four.js
 * and log-controller.js in fastify 5), where no `req` serializer reaches, so
 * a browser that mistyped a path under the prefix logged its token.
 */
export async function notFound (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const message = `Route ${request.method}:${redactToken(request.url)} not found`
  request.log.info(message)
  await reply.code(404).send({ message, error: 'Not Found', statusCode: 404 })
}

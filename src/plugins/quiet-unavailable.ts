import type { FastifyError, FastifyInstance } from 'fastify'

/**
 * Our 503s (the engine away, the connection limit, load shedding) are
 * logged at info, as Fastify logs a 4xx, instead of at error once per
 * refused request: the outage itself is logged once when it starts and
 * once when it ends (pubsub/redis/reachability.ts), and a line at error per
 * publish would bury it. Every other error goes on to the app's handler.
 */
export function quietUnavailable (scope: FastifyInstance): void {
  scope.setErrorHandler(function unavailable (error: FastifyError, _request, reply) {
    if (error.code !== 'PUBSUB_ERR_UNAVAILABLE') throw error
    reply.log.info({ res: reply, err: error }, error.message)
    // Sent as a body, not as the error: an error sent from a handler goes on to the parent's.
    return reply.code(503).send({ statusCode: 503, code: error.code, error: 'Service Unavailable', message: error.message })
  })
}

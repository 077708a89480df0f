import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EXEMPT } from '../plugins/load-shedding.js'
import type { Broker } from '../pubsub/broker.js'
import { PUBSUB_ERR_UNAVAILABLE } from '../protocol/errors.js'

/**
 * `GET /health`: liveness, 200 while the process serves, under pressure too.
 * `GET /ready`: readiness, 200 while the broker takes work (its engine is
 * connected, and the server is not shedding load). Once the app is closing,
 * Fastify answers every request 503 itself (return503OnClosing), so a load
 * balancer stops sending clients during a drain.
 */
const healthRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const broker = fastify.getDecorator<Broker>('pubsub')

  const Status = Type.Object({ status: Type.String() })
  const Unready = Type.Object({ statusCode: Type.Literal(503), code: Type.String(), error: Type.String(), message: Type.String() })
  fastify.get('/health', { config: EXEMPT, schema: { summary: 'Liveness', response: { 200: Status } } }, async () => ({ status: 'ok' }))
  // A failed probe is no error of the server, and a load balancer probes
  // every few seconds: Fastify's error handler would log each at error
  // level, so the 503 is sent as a plain reply, and only a change is logged.
  let unready: string | undefined
  fastify.get('/ready', { schema: { summary: 'Readiness', response: { 200: Status, 503: Unready } } }, async (request, reply) => {
    const reason = broker.closed ? 'not ready: the broker is closed' : broker.healthy ? undefined : 'not ready: the engine is not connected'
    if (reason !== unready) request.log.info({ ready: reason === undefined }, reason ?? 'ready again')
    unready = reason
    if (reason === undefined) return { status: 'ready' }
    const err = new PUBSUB_ERR_UNAVAILABLE(reason)
    return await reply.code(503).send({ statusCode: 503, code: err.code, error: 'Service Unavailable', message: err.message })
  })
}

export default healthRoute

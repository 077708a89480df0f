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
  fastify.get('/health', { config: EXEMPT, schema: { summary: 'Liveness', response: { 200: Status } } }, async () => ({ status: 'ok' }))
  fastify.get('/ready', { schema: { summary: 'Readiness', response: { 200: Status } } }, async () => {
    if (broker.closed) throw new PUBSUB_ERR_UNAVAILABLE('not ready: the broker is closed')
    if (!broker.healthy) throw new PUBSUB_ERR_UNAVAILABLE('not ready: the engine is unavailable')
    return { status: 'ready' }
  })
}

export default healthRoute

import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Broker } from '../pubsub/broker.js'
import type { Engine } from '../pubsub/engine.js'
import { MemoryEngine, type MemoryEngineOptions } from '../pubsub/memory-engine.js'
import { RedisEngine } from '../pubsub/redis/engine.js'
import { RedisClusterEngine } from '../pubsub/redis/cluster-engine.js'
import type { RedisClusterEngineConfig, RedisEngineConfig } from '../options.js'
import type { BrokerOptions } from '../pubsub/options.js'
import { Clients } from '../transport/clients.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The publish/subscribe broker shared by the WebSocket and REST routes. */
    pubsub: Broker
    /** The broker's open WebSocket and SSE clients, and the transport's counters that /metrics reads. */
    pubsubClients: Clients
  }
}

export interface PubsubPluginOptions extends BrokerOptions, MemoryEngineOptions {
  /**
   * The engine to run on: in memory by default, `{ type: 'redis', url }` or
   * `{ type: 'redis-cluster', nodes }` for
   * several nodes, or an Engine instance. The plugin closes it on app close.
   */
  engine?: Engine | RedisEngineConfig | RedisClusterEngineConfig
}

/**
 * Decorates `fastify.pubsub` with a Broker and closes it with the app, and
 * `fastify.pubsubClients` with its clients: the routes of one broker share
 * one connection limit, heartbeat and shutdown.
 *
 * @example
 * await app.register(pubsubPlugin)
 * await app.pubsub.publish('news.sports', { score: '2-1' })
 */
async function pubsub (fastify: FastifyInstance, opts: PubsubPluginOptions): Promise<void> {
  const { engine, topicTtl, maxTopics, historySize, historyTtl, idempotencyWindow, maxIdempotencyKeys, ...options } = opts
  const history = { topicTtl, historySize, historyTtl, idempotencyWindow }
  const chosen = engine === undefined
    ? new MemoryEngine({ ...history, maxTopics, maxIdempotencyKeys })
    : !('type' in engine)
        ? engine
        : engine.type === 'redis-cluster'
          ? new RedisClusterEngine({ ...engine, ...history, logger: fastify.log })
          : new RedisEngine({ ...engine, ...history, logger: fastify.log })
  const broker = new Broker(options, { engine: chosen, logger: fastify.log })
  fastify.decorate('pubsub', broker)
  fastify.decorate('pubsubClients', new Clients())
  fastify.addHook('onClose', async () => { await broker.close() })
}

export default fp(pubsub, { fastify: '5.x', name: 'fastify-pubsub-broker' })

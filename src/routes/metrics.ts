import type { FastifyPluginAsync } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { Broker } from '../pubsub/broker.js'

/**
 * `GET /metrics`: Prometheus text. Every figure is read from the broker's
 * plain counters at scrape time, so the fan-out path pays an increment, not a
 * metrics call. No per-topic labels: their cardinality is the clients' to
 * choose. One registry per app, with Node's default process metrics.
 */
const metricsRoute: FastifyPluginAsync = async (fastify) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const counters = broker.counters
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]

  /** A counter whose value is read from `read()` at each scrape. */
  function counter (name: string, help: string, read: () => number): void {
    new Counter({ name, help, registers, collect () { this.reset(); this.inc(read()) } })
  }
  function gauge (name: string, help: string, read: () => number): void {
    new Gauge({ name, help, registers, collect () { this.set(read()) } })
  }

  gauge('pubsub_connections', 'Open WebSocket connections and SSE streams', () => counters.connections)
  gauge('pubsub_subscriptions', 'Subscriptions held by connections and in-process subscribers', () => broker.counts().subscriptions)
  gauge('pubsub_topics', 'Topics with an exact subscriber', () => broker.counts().topics)
  gauge('pubsub_patterns', 'Wildcard patterns subscribed to', () => broker.counts().patterns)
  gauge('pubsub_history_bytes', 'JSON bytes of messages retained for recovery (the data only, not the overhead per message)', () => broker.historyBytes())
  new Counter({
    name: 'pubsub_messages_published_total',
    help: 'Messages published, by transport (ws, http, app: in-process)',
    labelNames: ['transport'],
    registers,
    collect () {
      this.reset()
      for (const [transport, count] of Object.entries(counters.published)) this.inc({ transport }, count)
    }
  })
  counter('pubsub_deliveries_total', 'Messages handed to subscribers', () => counters.deliveries)
  counter('pubsub_slow_consumer_disconnects_total', 'Connections closed with 1013', () => counters.slowConsumers)
  counter('pubsub_rate_limited_frames_total', 'Frames refused by the rate limit', () => counters.rateLimited)
  new Counter({
    name: 'pubsub_errors_total',
    help: 'Error replies, by code',
    labelNames: ['code'],
    registers,
    collect () {
      this.reset()
      for (const [code, count] of counters.errors) this.inc({ code }, count)
    }
  })

  fastify.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(registry.contentType)
    return await registry.metrics()
  })
}

export default metricsRoute

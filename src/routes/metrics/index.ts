import type { FastifyPluginAsync } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import { EXEMPT } from '../../plugins/load-shedding.js'
import { clusterMetrics } from './cluster.js'
import type { Broker } from '../../pubsub/broker.js'
import type { Clients } from '../../transport/clients.js'
import { LatencyHistogram } from './latency-histogram.js'

export interface MetricsRouteOptions {
  /** Topics that get their own `topic` label (0: no per-topic metrics); later ones count as OTHER_TOPICS. */
  metricsTopics: number
  /** A worker of `--workers`: answer with every worker's metrics, gathered by the primary. */
  clusterMetrics: boolean
}

/** The label of topics past the cap: not a valid topic, so it never names one. */
export const OTHER_TOPICS = '(other)'

/** Publish-to-fan-out latency buckets, in seconds: 100 µs to 2.5 s. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/**
 * `GET /metrics`: Prometheus text. Most figures are read from the broker's
 * and its clients' plain counters at scrape time, so the fan-out path pays an increment; it
 * also pays one histogram observation per message (not per delivery). No
 * per-topic labels unless `metricsTopics` asks for them: their cardinality
 * is the clients' to choose. One registry per app, and Node's default
 * process metrics from one registry per process.
 */
const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (fastify, opts) => {
  const broker = fastify.getDecorator<Broker>('pubsub')
  const counters = broker.counters
  const clients = fastify.getDecorator<Clients>('pubsubClients')
  const registry = new Registry()
  const registers = [registry]

  // prom-client metrics register themselves in `registers` when constructed.
  /* eslint-disable no-new */
  /** A counter whose value is read from `read()` at each scrape. */
  function counter (name: string, help: string, read: () => number): void {
    new Counter({ name, help, registers, collect () { this.reset(); this.inc(read()) } })
  }
  /** A counter with one label, its values and counts read at each scrape. */
  function labelledCounter (name: string, help: string, label: string, counts: () => Iterable<[string, number]>): void {
    new Counter({ name, help, labelNames: [label], registers, collect () { this.reset(); for (const [value, count] of counts()) this.inc({ [label]: value }, count) } })
  }
  /** `aggregator`: how `--workers` combines the workers' values (prom-client's). */
  function gauge (name: string, help: string, read: () => number, aggregator: 'sum' | 'min' = 'sum'): void {
    new Gauge({ name, help, registers, aggregator, collect () { this.set(read()) } })
  }
  /* eslint-enable no-new */

  gauge('pubsub_connections', 'Open WebSocket connections and SSE streams', () => clients.size)
  gauge('pubsub_subscriptions', 'Subscriptions held by connections and in-process subscribers', () => broker.counts().subscriptions)
  gauge('pubsub_topics', 'Topics with an exact subscriber', () => broker.counts().topics)
  gauge('pubsub_patterns', 'Wildcard patterns subscribed to', () => broker.counts().patterns)
  gauge('pubsub_history_bytes', 'JSON bytes of messages retained for recovery (the data only, not the overhead per message)', () => broker.historyBytes())
  labelledCounter('pubsub_messages_published_total', 'Messages published, by transport (ws, http, app: in-process)', 'transport', () => Object.entries(counters.published))
  // With --workers, the lowest: 1 only while every worker's engine takes work.
  gauge('pubsub_engine_ready', 'Whether the engine takes work (1) or not (0: Redis unreachable, or closing)', () => broker.healthy ? 1 : 0, 'min')
  counter('pubsub_deliveries_total', 'Messages handed to subscribers on this node', () => counters.deliveries)
  counter('pubsub_deliveries_dropped_total', 'Live messages a connection did not get: it was over maxBufferedBytes, or closing', () => clients.dropped)
  counter('pubsub_slow_consumer_disconnects_total', 'Connections closed with 1013', () => clients.slowConsumers)
  counter('pubsub_conflated_messages_total', 'Messages of conflating namespaces a client that was behind did not get: a later one of their topic replaced them (each delivered message says how many, `skipped`)', () => clients.conflated)
  counter('pubsub_rate_limited_frames_total', 'Frames refused by the rate limit', () => clients.rateLimited)
  labelledCounter('pubsub_errors_total', 'Error replies, by code', 'code', () => clients.errors)
  labelledCounter('pubsub_load_shed_total', 'Requests refused with 503 by load shedding, by the threshold passed', 'reason', () => clients.shed)

  const latency = new LatencyHistogram(LATENCY_BUCKETS)
  registry.registerMetric(latency.metric('pubsub_publish_to_fanout_seconds',
    'From a publish to the end of its fan-out on this node (queued for every local subscriber); between nodes, their clock difference adds in'))
  const byTopic = opts.metricsTopics > 0 ? topicMetrics(registers, opts.metricsTopics) : undefined
  const stopObserving = broker.observe({
    published: byTopic?.published,
    fanout (message, delivered, latencyMs) {
      if (delivered > 0) latency.observe(latencyMs / 1000)
      byTopic?.delivered(message.topic, delivered)
    }
  })
  fastify.addHook('onClose', async () => { stopObserving() })

  const thisProcess = async (): Promise<string> => await Registry.merge([processMetrics(), registry]).metrics()
  const scrape = opts.clusterMetrics ? clusterMetrics([processMetrics(), registry]) : thisProcess
  fastify.get('/metrics', { config: EXEMPT, schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(registry.contentType)
    return await scrape()
  })
}

export default metricsRoute

let processRegistry: Registry | undefined

/**
 * Node's default metrics, collected once per process however many apps
 * mount the plugin: they describe the process, and prom-client never stops
 * the event-loop monitor it starts for them, so one per app would pile up.
 */
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
    processCpu(processRegistry)
  }
  return processRegistry
}

/**
 * `process_cpu_*_seconds_total` as the process's whole CPU time: prom-client's
 * own count from when collectDefaultMetrics ran, which is the first scrape
 * here (a process that had used 1.78 s of CPU reported 0.003 s).
 */
function processCpu (registry: Registry): void {
  /** A counter set to the process's CPU time at each scrape: the kernel keeps the total. */
  const cpu = (name: string, help: string, micros: (usage: NodeJS.CpuUsage) => number): void => {
    registry.removeSingleMetric(name)
    // eslint-disable-next-line no-new
    new Counter({ name, help, registers: [registry], collect () { this.reset(); this.inc(micros(process.cpuUsage()) / 1e6) } })
  }
  cpu('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', (usage) => usage.user)
  cpu('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', (usage) => usage.system)
  cpu('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (usage) => usage.user + usage.system)
}

/**
 * `pubsub_topic_published_total` and `pubsub_topic_deliveries_total` with a
 * `topic` label for the first `cap` topics seen; every later topic counts
 * under OTHER_TOPICS, so a client inventing topics cannot grow the scrape.
 */
function topicMetrics (registers: Registry[], cap: number): { published: (topic: string) => void, delivered: (topic: string, count: number) => void } {
  const labelled = new Set<string>()
  const label = (topic: string): string => {
    if (labelled.has(topic)) return topic
    if (labelled.size >= cap) return OTHER_TOPICS
    labelled.add(topic)
    return topic
  }
  const published = new Counter({ name: 'pubsub_topic_published_total', help: 'Messages published, by topic (metricsTopics)', labelNames: ['topic'], registers })
  const deliveries = new Counter({ name: 'pubsub_topic_deliveries_total', help: 'Messages handed to subscribers on this node, by topic (metricsTopics)', labelNames: ['topic'], registers })
  return {
    published (topic) { published.inc({ topic: label(topic) }) },
    delivered (topic, count) { if (count > 0) deliveries.inc({ topic: label(topic) }, count) }
  }
}

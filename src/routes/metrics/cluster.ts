import { AggregatorRegistry, type Registry } from 'prom-client'
import { PUBSUB_ERR_UNAVAILABLE } from '../../protocol/errors.js'

// `--workers N`: the workers share one port, so a scrape reaches one of them.
// That worker asks the primary, which gathers every worker's metrics with
// prom-client's AggregatorRegistry (counters summed) and answers.

/** The messages of a worker's request and the primary's answer (the primary's side: src/server/cluster.ts). */
export const REQUEST = 'fastify-pubsub:metrics-request'
export const RESPONSE = 'fastify-pubsub:metrics-response'

export interface MetricsResponse { type: typeof RESPONSE, id: number, text?: string, error?: string }

/** What a worker's side needs: its `process`, or a stand-in in tests. */
interface Channel {
  send: (message: unknown) => unknown
  on: (event: 'message', listener: (message: unknown) => void) => unknown
  off: (event: 'message', listener: (message: unknown) => void) => unknown
}

let nextId = 0

/**
 * In a worker: offers `registries` to the primary's gathering, and returns
 * a function that asks the primary for all workers' metrics as text;
 * PUBSUB_ERR_UNAVAILABLE when it fails or does not answer in `timeout` ms.
 */
export function clusterMetrics (registries: Registry[], channel = process as Channel, timeout = 5000): () => Promise<string> {
  AggregatorRegistry.setRegistries(registries)
  // Constructing one is what makes prom-client answer the primary's requests.
  new AggregatorRegistry() // eslint-disable-line no-new
  return async () => await new Promise((resolve, reject) => {
    const id = nextId++
    const timer = setTimeout(() => { done({ type: RESPONSE, id, error: `the primary did not answer within ${timeout} ms` }) }, timeout)
    function done (response: MetricsResponse): void {
      clearTimeout(timer)
      channel.off('message', onMessage)
      if (response.text !== undefined) resolve(response.text)
      else reject(new PUBSUB_ERR_UNAVAILABLE(`metrics of the other workers: ${response.error as string}`))
    }
    function onMessage (message: unknown): void {
      const response = message as Partial<MetricsResponse> | undefined
      if (response?.type === RESPONSE && response.id === id) done(response as MetricsResponse)
    }
    channel.on('message', onMessage)
    channel.send({ type: REQUEST, id })
  })
}

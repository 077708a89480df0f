import type { Metric } from 'prom-client'

interface Sample { metricName: string, labels: Record<string, string | number>, value: number }

/**
 * A Prometheus histogram cheap enough to observe every message: fixed
 * buckets counted in an array. prom-client's Histogram hashes its labels on
 * every observation, about 100 ns each; this is a few ns (the "metrics
 * on/off" rows of `npm run bench`). The registry renders it exactly as it
 * renders its own (tested).
 */
export class LatencyHistogram {
  readonly #bounds: readonly number[]
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  readonly #counts: Float64Array
  #sum = 0

  constructor (bounds: readonly number[]) {
    this.#bounds = bounds
    this.#counts = new Float64Array(bounds.length + 1)
  }

  /** Negative values (clocks of two nodes apart) count as 0; NaN and infinities are ignored. */
  observe (seconds: number): void {
    if (!Number.isFinite(seconds)) return
    if (seconds < 0) seconds = 0
    const bounds = this.#bounds
    let bucket = 0
    while (bucket < bounds.length && seconds > (bounds[bucket] as number)) bucket++
    this.#counts[bucket] = (this.#counts[bucket] as number) + 1
    this.#sum += seconds
  }

  /**
   * As a prom-client metric, for `registry.registerMetric`: the registry
   * takes any object with a name and a `get()` shaped like its own metrics'.
   */
  metric (name: string, help: string): Metric {
    const get = async (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: Sample[] }> => {
      const values: Sample[] = []
      let cumulative = 0
      this.#counts.forEach((count, bucket) => {
        cumulative += count
        values.push({ metricName: `${name}_bucket`, labels: { le: this.#bounds[bucket] ?? '+Inf' }, value: cumulative })
      })
      values.push({ metricName: `${name}_sum`, labels: {}, value: this.#sum }, { metricName: `${name}_count`, labels: {}, value: cumulative })
      return { name, help, type: 'histogram', aggregator: 'sum', values }
    }
    // reset(): for registry.resetMetrics(), which calls it on every metric.
    return { name, help, get, reset: () => { this.#counts.fill(0); this.#sum = 0 } } as unknown as Metric
  }
}

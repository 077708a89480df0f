import { Histogram, Registry } from 'prom-client'
import t from 'tap'
import { LatencyHistogram } from '../../../src/routes/metrics/latency-histogram.js'

t.test('renders exactly what prom-client\'s own Histogram renders for the same observations', async (t) => {
  const bounds = [0.001, 0.01, 0.1]
  const ours = new LatencyHistogram(bounds)
  const ourRegistry = new Registry()
  ourRegistry.registerMetric(ours.metric('lat_seconds', 'Latency'))
  const reference = new Histogram({ name: 'lat_seconds', help: 'Latency', buckets: bounds, registers: [] })
  const referenceRegistry = new Registry()
  referenceRegistry.registerMetric(reference)
  // On a bound, just past it, past the last one, and zero.
  for (const seconds of [0, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.2, 7]) {
    ours.observe(seconds)
    reference.observe(seconds)
  }
  const text = await ourRegistry.metrics()
  t.equal(text, await referenceRegistry.metrics())
  t.match(text, /lat_seconds_bucket\{le="0.001"\} 2\n[\s\S]*lat_seconds_bucket\{le="\+Inf"\} 8\n/)
})

t.test('negative observations count as 0, NaN and infinities are ignored; reset() empties it', async (t) => {
  const ours = new LatencyHistogram([0.001])
  const registry = new Registry()
  registry.registerMetric(ours.metric('lat_seconds', 'Latency'))
  for (const seconds of [-0.002, NaN, Infinity, -Infinity, 0.5]) ours.observe(seconds)
  const text = await registry.metrics()
  t.match(text, /lat_seconds_bucket\{le="0.001"\} 1\n/, 'the negative one, as 0')
  t.match(text, /lat_seconds_sum 0.5\nlat_seconds_count 2\n/)
  registry.resetMetrics()
  t.match(await registry.metrics(), /lat_seconds_sum 0\nlat_seconds_count 0\n/)
})

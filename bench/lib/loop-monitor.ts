// Preloaded (--import) into the server during `npm run soak`: every
// SOAK_REPORT_MS it writes one JSON line to stderr with its event-loop delay
// (p50, p99, max, ms) and memory, so that a leak or a stall shows as a trend.
import { monitorEventLoopDelay } from 'node:perf_hooks'

const RESOLUTION_MS = 10
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
histogram.enable()
setInterval(() => {
  const { rss, heapUsed } = process.memoryUsage()
  // The histogram holds the time between samples: the resolution plus the delay.
  const ms = (ns: number): number => Math.max(0, Math.round(ns / 1e4 - RESOLUTION_MS * 100) / 100)
  process.stderr.write(JSON.stringify({ loop: { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }, rss, heapUsed }) + '\n')
  histogram.reset()
}, Number(process.env.SOAK_REPORT_MS ?? 10_000)).unref()

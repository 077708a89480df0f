import cluster, { type Worker } from 'node:cluster'
import type { EventEmitter } from 'node:events'
import { AggregatorRegistry } from 'prom-client'
import { REQUEST, RESPONSE, type MetricsResponse } from '../routes/metrics/cluster.js'

/**
 * The primary of `--workers N`: forks N copies of this entry that share the
 * port (node:cluster hands connections round-robin), replaces a worker that
 * dies once one has served (if none ever listens, it exits 1), and on SIGTERM/SIGINT passes the signal on and exits once all have
 * drained. The workers agree through Redis; the primary serves nothing.
 */
export function runPrimary (workers: number, log: (line: object) => void): void {
  let stopping = false
  let alive = 0
  let listened = false
  const fork = (): void => {
    alive++
    cluster.fork()
  }
  for (let i = 0; i < workers; i++) fork()
  serveClusterMetrics()
  cluster.on('listening', () => { listened = true })
  cluster.on('exit', (worker, code, signal) => {
    alive--
    if (stopping) {
      if (alive === 0) process.exit(0)
      return
    }
    if (!listened) {
      // None ever started (a port in use, a bad option): forking again would loop.
      log({ level: 50, pid: worker.process.pid, code, msg: 'worker could not start: giving up' })
      if (alive === 0) process.exit(1)
      return
    }
    log({ level: 40, pid: worker.process.pid, code, signal, msg: 'worker died: starting another' })
    fork()
  })
  const stop = (signal: NodeJS.Signals): void => {
    stopping = true
    for (const worker of Object.values(cluster.workers as Record<string, Worker>)) worker.process.kill(signal)
  }
  // `on`, as in main.ts: a second signal (the group's Ctrl-C, then a
  // supervisor's stop) left to Node's default would kill the primary and
  // orphan workers in the middle of their drain.
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/** In the primary (node:cluster, or a stand-in in tests): answers the workers' requests for everyone's metrics. */
export function serveClusterMetrics (gather: () => Promise<string> = gatherer(), primary: EventEmitter = cluster): void {
  primary.on('message', (worker: { send: (message: MetricsResponse) => unknown }, message: { type?: unknown, id: number }) => {
    if (message?.type !== REQUEST) return
    gather().then(
      (text) => worker.send({ type: RESPONSE, id: message.id, text }),
      (err: Error) => worker.send({ type: RESPONSE, id: message.id, error: err.message })
    )
  })
}

function gatherer (): () => Promise<string> {
  const aggregator = new AggregatorRegistry()
  return async () => await aggregator.clusterMetrics()
}

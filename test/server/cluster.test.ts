// The failure paths of --workers metrics, with stand-ins for node:cluster and
// a worker's process; test/redis/cluster.test.ts runs the real thing.
import { EventEmitter } from 'node:events'
import { Registry } from 'prom-client'
import t from 'tap'
import { clusterMetrics } from '../../src/routes/metrics/cluster.js'
import { serveClusterMetrics } from '../../src/server/cluster.js'

/** A worker's IPC channel whose primary answers with `answer(request)`. */
function channel (answer: (request: { type: string, id: number }) => unknown[]): EventEmitter & { send: (message: unknown) => void } {
  const emitter = new EventEmitter() as EventEmitter & { send: (message: unknown) => void }
  emitter.send = (message) => { for (const reply of answer(message as { type: string, id: number })) setImmediate(() => emitter.emit('message', reply)) }
  return emitter
}

t.test('a worker takes the answer to its own request, and ignores other messages', async (t) => {
  const ipc = channel(({ id }) => ['unrelated', { type: 'fastify-pubsub:metrics-response', id: id + 1000, text: 'not mine' }, { type: 'fastify-pubsub:metrics-response', id, text: 'mine' }])
  t.equal(await clusterMetrics([new Registry()], ipc)(), 'mine')
  t.equal(ipc.listenerCount('message'), 0, 'no listener left behind')
})

t.test('a failure or silence of the primary is a 503 error, not a hung scrape', async (t) => {
  const failing = channel(({ id }) => [{ type: 'fastify-pubsub:metrics-response', id, error: 'Operation timed out.' }])
  await t.rejects(clusterMetrics([new Registry()], failing)(), { code: 'PUBSUB_ERR_UNAVAILABLE', statusCode: 503, message: 'metrics of the other workers: Operation timed out.' })
  const silent = channel(() => [])
  await t.rejects(clusterMetrics([new Registry()], silent, 20)(), { message: 'metrics of the other workers: the primary did not answer within 20 ms' })
  t.equal(silent.listenerCount('message'), 0)
})

t.test('the primary answers requests with the gathered text, or the error', async (t) => {
  const primary = new EventEmitter()
  const sent: unknown[] = []
  const worker = { send: (message: unknown) => sent.push(message) }
  let fail = false
  serveClusterMetrics(async () => { if (fail) throw new Error('a worker failed'); return 'all of it' }, primary)
  primary.emit('message', worker, { type: 'prom-client:getMetricsRes' })
  primary.emit('message', worker, { type: 'fastify-pubsub:metrics-request', id: 1 })
  fail = true
  primary.emit('message', worker, { type: 'fastify-pubsub:metrics-request', id: 2 })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(sent, [
    { type: 'fastify-pubsub:metrics-response', id: 1, text: 'all of it' },
    { type: 'fastify-pubsub:metrics-response', id: 2, error: 'a worker failed' }
  ], 'other cluster messages are not answered')
})

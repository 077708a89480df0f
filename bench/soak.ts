// `npm run soak`: K clients subscribing and publishing for T minutes against
// the built server, printing its RSS, heap and event-loop delay over time, so
// that a leak shows as a rising line. Not part of `npm test`.
//   SOAK_CLIENTS (default 1000), SOAK_MINUTES (default 10), SOAK_RATE
//   (publishes per second in all, default 200), SOAK_REPORT_MS (default 10000).
import { spawn } from 'node:child_process'
import { connectClient, type BenchClient } from './lib/clients.js'
import { freePort } from './lib/servers.js'

const clients = Number(process.env.SOAK_CLIENTS ?? 1000)
const minutes = Number(process.env.SOAK_MINUTES ?? 10)
const rate = Number(process.env.SOAK_RATE ?? 200)
const topics = 50

const port = await freePort()
const server = spawn(process.execPath, ['--import', './dist-bench/bench/lib/loop-monitor.js', 'dist/server/main.js'], {
  env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'inherit', 'pipe']
})
const started = Date.now()
let received = 0
let published = 0
server.stderr.on('data', (chunk: Buffer) => {
  for (const line of String(chunk).trim().split('\n')) {
    if (!line.startsWith('{"loop"')) { process.stderr.write(line + '\n'); continue }
    const report = JSON.parse(line) as { loop: { p50: number, p99: number, max: number }, rss: number, heapUsed: number }
    const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)
    process.stdout.write(`${((Date.now() - started) / 60_000).toFixed(1)} min  rss ${mib(report.rss)} MiB  heap ${mib(report.heapUsed)} MiB  ` +
      `loop delay p50 ${report.loop.p50} ms p99 ${report.loop.p99} ms max ${report.loop.max} ms  published ${published} received ${received}\n`)
  }
})
await new Promise((resolve) => setTimeout(resolve, 1500))

// Each client subscribes to one of 50 topics, one in ten also to a pattern; ten
// times a second a client leaves and a new one takes its place.
const url = `ws://127.0.0.1:${port}`
async function open (i: number): Promise<BenchClient> {
  const client = await connectClient({ kind: 'fastify-pubsub', url, onDelivery () { received++ } })
  await client.subscribe(`soak.${i % topics}`)
  if (i % 10 === 0) await client.subscribe('soak.*')
  return client
}
const pool: BenchClient[] = []
for (let i = 0; i < clients; i++) pool.push(await open(i))

const end = started + minutes * 60_000
let churned = 0
const publisher = setInterval(() => {
  for (let k = 0; k < rate / 10; k++) {
    const client = pool[published % pool.length] as BenchClient
    client.publish(`soak.${published % topics}`, JSON.stringify({ i: published, t: Date.now(), p: 'x'.repeat(100) }))
    published++
  }
}, 100)
const churn = setInterval(() => {
  const i = churned++ % clients
  pool[i]?.close()
  void open(i).then((client) => { pool[i] = client })
}, 100)
await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now())))
clearInterval(publisher)
clearInterval(churn)
for (const client of pool) client.close()
server.kill('SIGTERM')
process.stdout.write(`done: ${published} published, ${received} deliveries, ${churned} clients replaced\n`)

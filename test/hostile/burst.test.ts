// One publisher's burst (300 pipelined 60 KB publishes over one WebSocket)
// to subscribers that read as fast as they can, each in a process of its own:
// none of them is a slow consumer, whatever the server queued for it within
// one turn. A subscriber that stops reading still is.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { connect as connectTcp } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Socket } from 'node:net'
import WebSocket from 'ws'
import { connectWelcomed, eventually, listen, WAIT_MS } from '../helper.js'

const TOTAL = 300
const PAYLOAD = 'x'.repeat(60_000)
const reader = fileURLToPath(new URL('./burst-reader.ts', import.meta.url))
/** Starting a child under tap's TypeScript loader, and 18 MB per reader on two shared cores, take a while. */
const BOUND_MS = 12 * WAIT_MS

interface Report { received: number, ordered: boolean, closed: string | number | null }

async function within<T> (promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what}: not within ${BOUND_MS} ms`)) }, BOUND_MS)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A reader process (burst-reader.ts): resolves once subscribed, with the promise of its report. */
async function startReader (t: Test, kind: 'ws' | 'sse', url: string, topic: string): Promise<{ report: Promise<Report> }> {
  const child = spawn(process.execPath, [...process.execArgv, reader, kind, url, topic, String(TOTAL)], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let ready: () => void = () => {}
  const subscribed = new Promise<void>((resolve) => { ready = resolve })
  const report = new Promise<Report>((resolve, reject) => {
    let buffered = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk
      let end: number
      while ((end = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, end)
        buffered = buffered.slice(end + 1)
        if (line === 'ready') ready()
        else resolve(JSON.parse(line) as Report)
      }
    })
    child.on('exit', (code) => { reject(new Error(`${kind} reader exited with ${code} before reporting`)) })
  })
  // A reader that dies before subscribing fails the wait instead of hanging it.
  await within(Promise.race([subscribed, report.then(() => {})]), `${kind} reader subscribed`)
  return { report }
}

/** Sends TOTAL publishes of PAYLOAD at once over one WebSocket; resolves with their acks. */
async function burst (t: Test, url: string, topic: string): Promise<void> {
  const publisher = await connectWelcomed(t, url)
  let acks = 0
  publisher.ws.removeAllListeners('message')
  const acked = new Promise<void>((resolve) => {
    publisher.ws.on('message', (data) => { if (String(data).includes('"action":"publish"') && ++acks === TOTAL) resolve() })
  })
  for (let i = 1; i <= TOTAL; i++) publisher.send({ action: 'publish', topic, message: PAYLOAD, id: i })
  await within(acked, 'every publish acked')
}

const OPTIONS = { maxPayload: 128 * 1024, bodyLimit: 128 * 1024 }

t.test('a burst of 300 x 60 KB: every fast reader, WebSocket or SSE, gets every message, in order, and stays open', async (t) => {
  const { app, url } = await listen(t, OPTIONS)
  const readers = await Promise.all([
    startReader(t, 'ws', url, 'burst'),
    startReader(t, 'ws', url, 'burst'),
    startReader(t, 'ws', url, 'burst'),
    startReader(t, 'sse', url, 'burst'),
    startReader(t, 'sse', url, 'burst')
  ])
  await eventually(async () => (await app.pubsub.topic('burst'))?.subscribers === readers.length)
  await burst(t, url, 'burst')
  const reports = await within(Promise.all(readers.map(async ({ report }) => await report)), 'every reader reported')
  t.same(reports, readers.map(() => ({ received: TOTAL, ordered: true, closed: null })), 'all 300, in seq order, none closed')
  t.equal(app.pubsubClients.slowConsumers, 0, 'no slow consumer')
})

t.test('the same burst: a WebSocket and an SSE reader that stop reading are cut, the fast ones are not', async (t) => {
  // The close frame waits behind what the kernel holds until the client reads again.
  const { app, url } = await listen(t, { ...OPTIONS, closeGrace: BOUND_MS })
  const fast = await Promise.all([startReader(t, 'ws', url, 'burst'), startReader(t, 'sse', url, 'burst')])
  const stuckWs = await connectWelcomed(t, url)
  await stuckWs.subscribe('burst')
  const raw = (stuckWs.ws as unknown as { _socket: Socket })._socket
  raw.pause()
  // A raw socket: node's http client keeps reading even when paused.
  const stuckSse = connectTcp(Number(new URL(url).port), '127.0.0.1')
  t.teardown(() => stuckSse.destroy())
  stuckSse.on('error', () => {})
  stuckSse.pause()
  stuckSse.write('GET /sse/burst HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await eventually(async () => (await app.pubsub.topic('burst'))?.subscribers === 4)
  await burst(t, url, 'burst')
  const reports = await within(Promise.all(fast.map(async ({ report }) => await report)), 'every fast reader reported')
  t.same(reports, fast.map(() => ({ received: TOTAL, ordered: true, closed: null })), 'the fast readers got all 300, in order')
  t.equal(app.pubsubClients.slowConsumers, 2, 'both stuck readers are slow consumers')
  raw.resume()
  t.equal((await within(stuckWs.closed, 'the stuck WebSocket closed')).code, 1013)
  t.equal(stuckWs.ws.readyState, WebSocket.CLOSED)
})

import { once } from 'node:events'
import { get, type IncomingMessage } from 'node:http'
import { spawn } from 'node:child_process'
import { connect, createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { connectWelcomed, eventually, WAIT_MS } from '../helper.js'
import { logLine, start } from './server-process.js'

const cli = fileURLToPath(new URL('../../src/server/cli.ts', import.meta.url))

t.test('SIGTERM closes clients with 1001 and exits 0', async (t) => {
  const child = start({ LOG_LEVEL: 'info', REDIS_TIMEOUT: '500' })
  t.teardown(() => child.kill('SIGKILL'))
  const warning = logLine(child, (l) => l.level === 40)
  const summary = logLine(child, (l) => l.msg === 'fastify-pubsub listening')
  const listening = await logLine(child, (l) => String(l.msg).startsWith('Server listening at http://127.0.0.1:'))
  t.match(await summary, { level: 30, engine: 'memory', auth: false, loadShedding: true, metrics: true }, 'what is on, in one line')
  t.match(await warning, { msg: 'redisTimeout (REDIS_TIMEOUT, --redis-timeout) has no effect without redisUrl' }, 'a setting that cannot act is warned about')
  const url = String(listening.msg).replace('Server listening at ', '')
  const connected = logLine(child, (l) => l.msg === 'client connected')
  const incoming = logLine(child, (l) => l.msg === 'incoming request' && String((l.req as { url: string }).url).startsWith('/ws'))
  const client = await connectWelcomed(t, url, { token: 'secret-looking' })
  t.match(await connected, { level: 30, clientId: String, reqId: String, remoteAddress: '127.0.0.1' })
  t.match(await incoming, { req: { method: 'GET', url: '/ws?token=[redacted]', remoteAddress: '127.0.0.1', remotePort: Number } }, 'a token in the query is not logged')
  const notFound = logLine(child, (l) => String(l.msg).startsWith('Route GET:/nowhere'))
  const missing = await fetch(`${url}/nowhere?token=secret-looking`)
  t.equal(missing.status, 404)
  t.same(await missing.json(), { statusCode: 404, error: 'Not Found', message: 'Route GET:/nowhere?token=[redacted] not found' })
  t.match(await notFound, { level: 30, msg: 'Route GET:/nowhere?token=[redacted] not found' }, "a mistyped path's token is not logged either")
  await client.subscribe('a')
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' })
  t.same(await exited, [0, null])
})

t.test('a shutdown whose clients close at once is not held by closeGrace', async (t) => {
  const child = start({ CLOSE_GRACE: '60000', CLOSE_TIMEOUT: '30000' })
  t.teardown(() => child.kill('SIGKILL'))
  const listening = await logLine(child, (l) => String(l.msg).startsWith('Server listening at'))
  const client = await connectWelcomed(t, String(listening.msg).replace('Server listening at ', ''))
  const exited = once(child, 'exit')
  const started = Date.now()
  child.kill('SIGTERM')
  t.equal((await client.closed).code, 1001)
  t.same(await exited, [0, null])
  t.ok(Date.now() - started < 10_000, `exited ${Date.now() - started} ms after SIGTERM`)
})

t.test('SIGINT then SIGTERM: one close, exit 0', async (t) => {
  const child = start({})
  t.teardown(() => child.kill('SIGKILL'))
  await logLine(child, (l) => String(l.msg).startsWith('Server listening at'))
  const exited = once(child, 'exit')
  child.kill('SIGINT')
  child.kill('SIGTERM')
  t.same(await exited, [0, null])
})

t.test('a second SIGTERM during the drain (npm or a cluster primary passing a group signal on) does not cut it: exit 0', async (t) => {
  const child = start({ CLOSE_GRACE: '1000' })
  t.teardown(() => child.kill('SIGKILL'))
  const listening = await logLine(child, (l) => String(l.msg).startsWith('Server listening at'))
  // A client that stops reading holds the drain for closeGrace.
  const client = await connectWelcomed(t, String(listening.msg).replace('Server listening at ', ''))
  ;(client.ws as unknown as { _socket: import('node:net').Socket })._socket.pause()
  const closing = logLine(child, (l) => l.msg === 'closing')
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await closing
  child.kill('SIGTERM')
  t.same(await exited, [0, null])
})

t.test('a close that hangs past CLOSE_TIMEOUT exits 1', async (t) => {
  const child = start({ CLOSE_TIMEOUT: '200' })
  t.teardown(() => child.kill('SIGKILL'))
  const listening = await logLine(child, (l) => String(l.msg).startsWith('Server listening at'))
  const url = String(listening.msg).replace('Server listening at ', '')
  // A client that stops reading never answers the close handshake.
  const client = await connectWelcomed(t, url)
  ;(client.ws as unknown as { _socket: import('node:net').Socket })._socket.pause()
  const gaveUp = logLine(child, (l) => l.msg === 'close did not finish in time: exiting')
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  t.match(await gaveUp, { level: 50, closeTimeout: 200 })
  t.same(await exited, [1, null])
})

t.test('a port in use: the CLI says so in one line on stderr, no stack, and exits 1', async (t) => {
  // Whatever holds the port: here a plain TCP server.
  const holder = createServer().listen(0, '127.0.0.1')
  t.teardown(() => holder.close())
  await once(holder, 'listening')
  const { port } = holder.address() as AddressInfo
  const child = spawn(process.execPath, [...process.execArgv, cli, '--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => { stdout += String(chunk) })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += String(chunk) })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.equal(stderr, `fastify-pubsub: 127.0.0.1:${port} is already in use (EADDRINUSE): stop what listens there, or choose another port (--port, PORT)\n`)
  t.notMatch(stdout, /stack|could not start/, 'no fatal log line with a stack trace')
})

t.test('a host that is not this machine\'s: one line too', async (t) => {
  // TEST-NET-1 (RFC 5737): never an address of this machine.
  const child = start({ HOST: '192.0.2.1' })
  t.teardown(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += String(chunk) })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.equal(stderr, 'fastify-pubsub: 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL): choose another host (--host, HOST)\n')
})

t.test('an invalid setting stops the server with a message naming it', async (t) => {
  const child = start({ PORT: 'eighty' })
  t.teardown(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += String(chunk) })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(stderr, /^fastify-pubsub: Invalid option 'PORT': "eighty"/)
})

/**
 * Sends `head`, then `drip` every 100 ms until the server closes the
 * connection; resolves with what it answered and when. Fails past 2 * WAIT_MS.
 */
async function trickle (port: number, head: string, drip: string): Promise<{ answer: string, ms: number }> {
  const started = Date.now()
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(head)
  const dripping = setInterval(() => { if (socket.writable) socket.write(drip) }, 100)
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += String(chunk) })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`still open after ${2 * WAIT_MS} ms`)) }, 2 * WAIT_MS)
      socket.on('close', () => { clearTimeout(timer); resolve() })
    })
  } finally {
    clearInterval(dripping)
    socket.destroy()
  }
  return { answer, ms: Date.now() - started }
}

t.test('REQUEST_TIMEOUT: a body or headers that trickle in get 408; streams and WebSockets outlive it', async (t) => {
  const child = start({ REQUEST_TIMEOUT: '500' })
  t.teardown(() => child.kill('SIGKILL'))
  const listening = await logLine(child, (l) => String(l.msg).startsWith('Server listening at'))
  const url = String(listening.msg).replace('Server listening at ', '')
  const port = Number(new URL(url).port)
  const ws = await connectWelcomed(t, url)
  await ws.subscribe('kept')
  const response = await new Promise<IncomingMessage>((resolve) => { get(`${url}/sse/kept`, resolve) })
  t.teardown(() => response.destroy())
  let events = ''
  response.setEncoding('utf8')
  response.on('data', (chunk: string) => { events += chunk })
  await eventually(() => events.includes('event: subscribed'))
  const opened = Date.now()

  const [body, headers] = await Promise.all([
    trickle(port, 'POST /publish/kept HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n', 'x'),
    // A header line that never ends.
    trickle(port, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a')
  ])
  for (const [what, cut] of [['a trickling body', body], ['trickling headers', headers]] as const) {
    t.match(cut.answer, /^HTTP\/1\.1 408 /, `${what}: 408`)
    // Past the limit, within a second or so (the check runs every second).
    t.ok(cut.ms >= 500 && cut.ms < 4000, `${what}: cut after ${cut.ms} ms`)
  }

  // Opened before the trickles: the check that cut those would have cut them too.
  t.ok(Date.now() - opened > 500, 'the stream and the WebSocket have been open past the timeout')
  const published = await fetch(`${url}/publish/kept`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '"still here"' })
  t.equal(published.status, 200)
  t.match(await ws.next(), { type: 'message', topic: 'kept', data: 'still here' }, 'the WebSocket is served')
  await eventually(() => events.includes('"data":"still here"'))
  t.pass('the stream is served')
})

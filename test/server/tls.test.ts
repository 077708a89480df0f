// TLS_CERT and TLS_KEY: the server speaks HTTPS and wss:// itself, on its one port.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import t from 'tap'
import { WebSocket } from 'ws'
import { selfSignedCertificate } from '../deploy/nginx.js'
import { Client } from '../helper.js'
import { logLine, start } from './server-process.js'

/** An HTTPS request trusting only `ca`: its status and body. */
async function https (url: string, ca: string, method = 'GET', body?: string): Promise<{ status: number, body: string }> {
  const req = request(url, { method, ca, headers: body === undefined ? {} : { 'content-type': 'application/json' } })
  req.end(body)
  const [res] = await once(req, 'response') as [import('node:http').IncomingMessage]
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode as number, body: text }
}

t.test('HTTPS and wss:// with a certificate of its own', async (t) => {
  const files = await selfSignedCertificate(t)
  const ca = readFileSync(files.cert, 'utf8')
  const child = start({ LOG_LEVEL: 'info', TLS_CERT: files.cert, TLS_KEY: files.key })
  t.teardown(() => child.kill('SIGKILL'))
  const summary = logLine(child, (l) => l.msg === 'fastify-pubsub listening')
  const listening = await logLine(child, (l) => String(l.msg).startsWith('Server listening at https://127.0.0.1:'))
  t.match(await summary, { tls: true })
  // The certificate names localhost, so clients connect by that name.
  const base = String(listening.msg).replace('Server listening at ', '').replace('127.0.0.1', 'localhost')
  t.same(await https(`${base}/health`, ca), { status: 200, body: '{"status":"ok"}' })

  const client = new Client(new WebSocket(`${base.replace('https', 'wss')}/ws`, { ca }))
  t.teardown(() => { client.close() })
  t.match(await client.next(), { type: 'welcome' })
  await client.subscribe('secure')
  const published = await https(`${base}/publish/secure`, ca, 'POST', '{"over":"tls"}')
  t.equal(published.status, 200)
  t.match(await client.next(), { type: 'message', topic: 'secure', data: { over: 'tls' } })

  const plain = await fetch(`${base.replace('https', 'http')}/health`).then((res) => res.status, (err: Error) => err.message)
  t.equal(plain, 'fetch failed', 'plain HTTP on the TLS port is not served')
  // A clean exit, not the teardown's SIGKILL: the child's coverage is written then.
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  t.same(await exited, [0, null], 'SIGTERM drains and exits 0 over TLS too')
})

t.test('a bad pair stops the server with one line naming both settings', async (t) => {
  const [one, other] = await Promise.all([selfSignedCertificate(t), selfSignedCertificate(t)])
  const child = start({ TLS_CERT: one.cert, TLS_KEY: other.key })
  let err = ''
  child.stderr?.on('data', (chunk: Buffer) => { err += String(chunk) })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(err, /^fastify-pubsub: Invalid option 'tlsCert \(TLS_CERT, --tls-cert\) and tlsKey \(TLS_KEY, --tls-key\)': "\(hidden\)" \(a PEM certificate and its private key \(.*\)\)\n$/)
})

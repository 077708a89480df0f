// `fastify-pubsub sub` through what passes: a server not up yet, a network
// cut, a full server. It keeps trying, with one line per change on stderr.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect as connectTcp, createServer, type AddressInfo, type Socket } from 'node:net'
import { createSigner } from 'fast-jwt'
import t, { type Test } from 'tap'
import { connectWelcomed, eventually, listen } from '../helper.js'
import { run } from './cli-process.js'

/**
 * A TCP gate in front of `target`: while shut, it cuts every connection at
 * once (counted in `refused`), as a server that is not up yet would.
 */
async function gate (t: Test, target: string): Promise<{ url: string, refused: () => number, open: () => void, shut: () => void }> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let shut = true
  let refused = 0
  const server = createServer((client) => {
    if (shut) {
      refused++
      client.destroy()
      return
    }
    const upstream = connectTcp(Number(port), hostname)
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    const end = (): void => { client.destroy(); upstream.destroy() }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  }).listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise((resolve) => server.close(resolve))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused: () => refused,
    open: () => { shut = false },
    shut: () => {
      shut = true
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    }
  }
}

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '')

t.test('a server not up yet, then a cut: one line when waiting, one when lost, one when back', async (t) => {
  const { app, url } = await listen(t)
  const door = await gate(t, url)
  const ws = `${door.url.replace(/^http/, 'ws')}/ws`
  const sub = run(['sub', 'news', '--url', door.url])
  t.teardown(() => sub.child.kill('SIGKILL'))
  await eventually(() => door.refused() >= 3, 15_000)
  t.match(lines(sub.err()), [new RegExp(`^fastify-pubsub: connection to ${ws} failed: .+: retrying until it answers$`)], 'three attempts, one line')
  t.equal(lines(sub.err()).length, 1)

  door.open()
  await eventually(() => app.pubsub.counts().subscriptions === 1, 15_000)
  await app.pubsub.publish('news', 1)
  await eventually(() => sub.out().includes('\n'))
  // stderr is a pipe of its own: what it carries may come after stdout's.
  await eventually(() => lines(sub.err()).length === 2)
  t.match(lines(sub.err())[1], `fastify-pubsub: connected to ${ws}`)

  const before = door.refused()
  door.shut()
  await eventually(() => door.refused() >= before + 2, 15_000)
  await eventually(() => lines(sub.err()).length === 3)
  t.match(lines(sub.err())[2], new RegExp(`^fastify-pubsub: connection to ${ws} lost \\(code 1006\\): reconnecting$`))
  door.open()
  await eventually(() => lines(sub.err()).length === 4, 15_000)
  t.match(lines(sub.err())[3], `fastify-pubsub: connected to ${ws}`)
  await eventually(() => app.pubsub.counts().subscriptions === 1, 15_000)
  await app.pubsub.publish('news', 2)
  await eventually(() => lines(sub.out()).length === 2)
  t.same(lines(sub.out()).map((line) => JSON.parse(line).data), [1, 2], 'resubscribed after the cut')

  const exited = once(sub.child, 'exit')
  sub.child.kill('SIGINT')
  t.same(await exited, [0, null])
  t.equal(lines(sub.err()).length, 4, 'nothing else on stderr')
})

t.test('a full server (503) is waited for; host:port for --url, the token from PUBSUB_TOKEN', async (t) => {
  const secret = randomBytes(32).toString('hex')
  const token = createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'cli', pubsub: { subscribe: ['news'], publish: [] }, exp: Math.floor(Date.now() / 1000) + 600 })
  const { app, url } = await listen(t, { auth: { secret }, maxConnections: 1 })
  const holder = await connectWelcomed(t, url, { token })
  // Without a scheme: http:// is assumed, as for pub.
  const sub = run(['sub', 'news', '--url', url.replace('http://', '')], { PUBSUB_TOKEN: token })
  t.teardown(() => sub.child.kill('SIGKILL'))
  await eventually(() => sub.err().includes('\n'), 15_000)
  t.match(sub.err(), /^fastify-pubsub: ws:\S+\/ws answered HTTP 503: connection limit reached \(1\): retrying until it answers\n$/)
  holder.close()
  await eventually(() => app.pubsub.counts().subscriptions === 1, 15_000)
  await eventually(() => lines(sub.err()).length === 2)
  t.match(lines(sub.err())[1], /^fastify-pubsub: connected to ws:/)
  await app.pubsub.publish('news', 'hello')
  await eventually(() => sub.out().includes('\n'))
  t.match(JSON.parse(sub.out()), { topic: 'news', data: 'hello' })
  const exited = once(sub.child, 'exit')
  sub.child.kill('SIGTERM')
  t.same(await exited, [0, null], 'SIGTERM ends it cleanly too')
})

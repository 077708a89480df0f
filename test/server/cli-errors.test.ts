// `fastify-pubsub sub` and `pub` where retrying cannot help: one line that
// says why, and exit 1 (the server said no) or 2 (the command line is wrong).
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { WebSocketServer } from 'ws'
import { listen } from '../helper.js'
import { finish } from './cli-process.js'

/**
 * Not a fastify-pubsub server: /mute/ws upgrades, then closes without a
 * welcome; /locked/ws answers 401 in plain text, as a proxy might; anything
 * else 404.
 */
async function stranger (t: Test): Promise<string> {
  const wss = new WebSocketServer({ noServer: true })
  const server = createHttpServer((_request, response) => { response.writeHead(404).end('Not Found') })
  server.on('upgrade', (request, socket, head) => {
    if (request.url === '/mute/ws') {
      wss.handleUpgrade(request, socket, head, (ws) => { ws.close() })
    } else {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 12\r\n\r\nUnauthorized')
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A TCP server that accepts and never answers. */
async function silent (t: Test): Promise<string> {
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => { sockets.add(socket) }).listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A loopback port nothing listens on (any more). */
async function closedPort (): Promise<number> {
  const server = createTcpServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test('sub and pub give up with one line and exit 1 when retrying cannot help', async (t) => {
  const { url } = await listen(t)
  const locked = await listen(t, { auth: { secret: randomBytes(32).toString('hex') } })
  const other = await stranger(t)
  const quiet = await silent(t)
  const closed = `http://127.0.0.1:${await closedPort()}`
  const ws = (base: string): string => base.replace(/^http/, 'ws') + '/ws'
  const cases: Array<[string, string[], RegExp]> = [
    ['a wrong prefix', ['sub', 't', '--url', `${url}/wrong`],
      new RegExp(`^fastify-pubsub: no pubsub WebSocket at ${ws(`${url}/wrong`)} \\(HTTP 404\\): check --url and the server's prefix\n$`)],
    ['a WebSocket server that is not fastify-pubsub', ['sub', 't', '--url', `${other}/mute`],
      /^fastify-pubsub: ws:\S+\/mute\/ws accepted a WebSocket but closed it \(code 1005\) before the welcome: is --url a fastify-pubsub server\?\n$/],
    ['auth on, no token', ['sub', 'news', '--url', locked.url],
      new RegExp(`^fastify-pubsub: this server needs a token: pass --token or set PUBSUB_TOKEN \\(HTTP 401 from ${ws(locked.url)}\\)\n$`)],
    ['auth on, a bad token', ['sub', 'news', '--url', locked.url, '--token', 'not-a-jwt'],
      /^fastify-pubsub: the server refused the token \(expired\? signed with another key\?\): check --token or PUBSUB_TOKEN \(HTTP 401 from ws:\S+: .*token.*\)\n$/],
    ['a 401 in plain text', ['sub', 'news', '--url', `${other}/locked`], /^fastify-pubsub: this server needs a token: .*\(HTTP 401 from ws:\S+\/locked\/ws\)\n$/],
    ['a 401 in plain text, with a token', ['sub', 'news', '--url', `${other}/locked`, '--token', 't'], /^fastify-pubsub: the server refused the token .*\(HTTP 401 from ws:\S+\/locked\/ws: Unauthorized\)\n$/],
    ['nothing listening, --timeout', ['sub', 'news', '--url', closed, '--timeout', '1s'],
      /^fastify-pubsub: connection to ws:\S+ failed: connect ECONNREFUSED \S+: retrying until it answers\nfastify-pubsub: no connection to ws:\S+ within 1s \(--timeout\): connection to ws:\S+ failed: connect ECONNREFUSED \S+\n$/],
    ['pub to a server that does not answer', ['pub', 'news', '1', '--url', quiet, '--timeout', '300ms'],
      new RegExp(`^fastify-pubsub: cannot publish to ${quiet}: no answer within 300ms \\(--timeout\\)\n$`)]
  ]
  // Each is a process of its own: run them side by side.
  const results = await Promise.all(cases.map(async ([, args]) => await finish(args)))
  results.forEach((result, i) => {
    const [why, , err] = cases[i] as [string, string[], RegExp]
    t.equal(result.code, 1, why)
    t.match(result.err, err, why)
    t.equal(result.out, '', why)
  })
})

t.test('a bad value exits 2 with one line that names it; a misplaced flag or argument, with the command\'s usage', async (t) => {
  const values: Array<[string[], RegExp]> = [
    [['sub', 't', '--url', 'http://['], /^fastify-pubsub: --url 'http:\/\/\[' is not the server's base URL/],
    [['pub', 't', '1', '--url', 'ftp://host:21'], /^fastify-pubsub: --url 'ftp:\/\/host:21' is not /],
    [['sub', 't', '--timeout', 'soon'], /^fastify-pubsub: --timeout 'soon' is not a duration such as '250ms', '30s' or '5m'/],
    [['pub', 't', '1', '--timeout', '0'], /^fastify-pubsub: --timeout '0' is not a duration/],
    [['pub', 't', 'not json'], /^fastify-pubsub: the message is not JSON: not json \(a string goes in quotes: '"text"'\)/],
    [['pub', 't', '@/no/such/file.json'], /^fastify-pubsub: cannot read the message: ENOENT: no such file or directory, open '\/no\/such\/file.json'/]
  ]
  const usage: Array<[string[], RegExp]> = [
    [['pub', 'only-a-topic'], /^fastify-pubsub: pub takes a topic and a message\n\nUsage: fastify-pubsub pub /],
    [['pub', 't', '1', '--port', '9999'], /^fastify-pubsub: unknown option '--port'\n\nUsage: fastify-pubsub pub /],
    [['sub'], /^fastify-pubsub: sub takes one topic or pattern\n\nUsage: fastify-pubsub sub /],
    [['sub', 't', '--key', 'k'], /^fastify-pubsub: unknown option '--key'\n\nUsage: fastify-pubsub sub /],
    [['sub', 't', '--url'], /^fastify-pubsub: Option '--url <value>' argument missing\n\nUsage: fastify-pubsub sub /]
  ]
  const results = await Promise.all([...values, ...usage].map(async ([args]) => await finish(args)))
  results.forEach((result, i) => {
    const [args, err] = [...values, ...usage][i] as [string[], RegExp]
    t.equal(result.code, 2, args.join(' '))
    t.match(result.err, err, args.join(' '))
    if (i < values.length) t.equal(result.err.split('\n').length, 2, `${args.join(' ')}: one line`)
    else t.notMatch(result.err, /--port <|fastify-pubsub \[--config/, `${args.join(' ')}: only that command's usage`)
  })
})

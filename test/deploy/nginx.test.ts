// deploy/nginx.conf (shown in docs/scaling.md) in front of two server
// processes on one Redis, as the docs deploy it: over TLS, a browser's
// WebSocket, SSE and REST through it, and what some of its lines are for.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { Client, eventually, WAIT_MS } from '../helper.js'
import { RedisServer, redisMissing } from '../redis/redis-server.js'
import { start } from '../server/server-process.js'
import { SseClient } from '../sse-client.js'
import { browserMissing, launch, openConsole, subscribeInPage } from '../console/browser.js'
import { check, CONFIG, nginxMissing, render, replaceExactly, selfSignedCertificate, startNginx } from './nginx.js'
import { ROOT } from './project.js'

const missing = nginxMissing() || redisMissing()
const noBrowser = browserMissing()

type LogLine = Record<string, any>
interface Node { address: string, lines: LogLine[] }

/** A server process (`npm start`'s entry) on `redisUrl`, started as the config's comment says: trusting the proxy's address. */
async function startNode (t: Test, redisUrl: string): Promise<Node> {
  const child = start({ REDIS_URL: redisUrl, TRUST_PROXY: '127.0.0.1', LOG_LEVEL: 'info' })
  t.teardown(() => child.kill('SIGKILL'))
  const lines: LogLine[] = []
  let buffered = ''
  let errors = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += String(chunk)
    const complete = buffered.split('\n')
    buffered = complete.pop() ?? ''
    for (const line of complete) lines.push(JSON.parse(line) as LogLine)
  })
  child.stderr?.on('data', (chunk: Buffer) => { errors += String(chunk) })
  let address: string | undefined
  // Starting compiles the sources: slower than the other waits.
  await eventually(() => {
    if (child.exitCode !== null) throw new Error(`the node exited with ${child.exitCode}:\n${errors}`)
    address = lines.map((l) => /^Server listening at http:\/\/(127\.0\.0\.1:\d+)$/.exec(String(l.msg))?.[1]).find((a) => a !== undefined)
    return address !== undefined
  }, 6 * WAIT_MS)
  await eventually(async () => (await fetch(`http://${address as string}/ready`)).status === 200)
  return { address: address as string, lines }
}

/** The `incoming request` log line of `url`, on whichever node took it. */
async function logged (nodes: Node[], url: string): Promise<LogLine> {
  let found: LogLine | undefined
  await eventually(() => {
    found = nodes.flatMap((n) => n.lines).find((l) => l.msg === 'incoming request' && l.req?.url === url)
    return found !== undefined
  })
  return found as LogLine
}

interface Answer { status: number, headers: IncomingMessage['headers'], body: string }

/** One request over IPv4 (nginx listens on 127.0.0.1), over TLS when the URL says https; the answer in full. */
async function call (url: string, options: RequestOptions & { body?: string } = {}): Promise<Answer> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest
  return await new Promise((resolve, reject) => {
    const req = send(url, { family: 4, ...options }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => { resolve({ status: response.statusCode as number, headers: response.headers, body }) })
    }).on('error', reject)
    req.end(options.body)
  })
}

/** A WebSocket with a browser's Origin header: its client once upgraded (101), or the status that refused it. */
async function openWebSocket (t: Test, url: string, origin: string, ca: Buffer): Promise<{ status: number, client?: Client }> {
  const ws = new WebSocket(url, { origin, ca, family: 4 })
  t.teardown(() => ws.terminate())
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { resolve({ status: 101, client: new Client(ws) }) })
    ws.once('unexpected-response', (_request, response) => { resolve({ status: response.statusCode as number }) })
    ws.once('error', reject)
  })
}

t.test('docs/scaling.md shows deploy/nginx.conf as it is', async (t) => {
  t.ok(readFileSync(join(ROOT, 'docs/scaling.md'), 'utf8').includes('```nginx\n' + CONFIG + '```\n'), 'the same text, whole')
})

t.test('deploy/nginx.conf in front of two nodes on one Redis', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t)
  const nodes = await Promise.all([startNode(t, redis.url), startNode(t, redis.url)])
  const addresses = nodes.map((n) => n.address)
  const certificate = await selfSignedCertificate(t)
  const ca = readFileSync(certificate.cert)
  const rendered = await render(t, CONFIG, addresses, certificate)
  const checked = await check(rendered)
  t.match(checked, { code: 0, output: /test is successful/ }, 'nginx -t accepts it')
  t.notMatch(checked.output, /\[(warn|emerg|alert)\]/, 'without a warning')
  await startNginx(t, rendered)
  const base = `https://localhost:${rendered.tls}`
  const publish = async (topic: string, data: unknown): Promise<{ seq: number, delivered: number }> => {
    const answer = await call(`${base}/publish/${topic}`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) })
    if (answer.status !== 200) throw new Error(`publish answered ${answer.status}: ${answer.body}`)
    return JSON.parse(answer.body)
  }

  await t.test('a WebSocket with a browser Origin is let in, and gets what either node took', async (t) => {
    const { status, client } = await openWebSocket(t, `wss://localhost:${rendered.tls}/ws`, base, ca)
    t.equal(status, 101, 'not refused 403: the node checks the Origin against the Host nginx passed on')
    const ws = client as Client
    t.match(await ws.next(), { type: 'welcome' })
    await ws.subscribe('deploy.ws')
    const delivered: number[] = []
    for (let n = 1; n <= 4; n++) delivered.push((await publish('deploy.ws', { n })).delivered)
    // `delivered` counts the subscribers on the node that took the publish:
    // round robin sent them in turn to the subscriber's node and the other.
    t.same(delivered, delivered[0] === 1 ? [1, 0, 1, 0] : [0, 1, 0, 1], 'both nodes took publishes, in turn')
    t.match(await ws.take(4), [1, 2, 3, 4].map((n) => ({ type: 'message', topic: 'deploy.ws', seq: n, data: { n } })), 'all of them reached it, in order')
  })

  await t.test("Chromium's WebSocket: the console, served through nginx, connects, subscribes and shows a message", { skip: noBrowser }, async (t) => {
    // The certificate is the test's own: not one Chromium knows.
    const browser = await launch(t, ['--ignore-certificate-errors'])
    const page = await openConsole(t, browser, `${base}/`)
    await subscribeInPage(page, 'deploy.browser')
    await publish('deploy.browser', { from: 'curl' })
    t.match(await (await page.waitForSelector('#log li[data-topic="deploy.browser"][data-seq="1"]')).textContent(), /"from": "curl"/)
  })

  await t.test('an SSE stream gets each event while it stays open', async (t) => {
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      httpsRequest(`${base}/sse/deploy.sse`, { ca, family: 4 }, resolve).on('error', reject).end()
    })
    const stream = new SseClient(response)
    t.teardown(() => stream.close())
    t.equal(response.statusCode, 200)
    t.match(response.headers['content-type'], /^text\/event-stream/)
    t.match(await stream.until(1), [{ event: 'subscribed', data: { topic: 'deploy.sse' } }])
    for (let n = 1; n <= 2; n++) {
      await publish('deploy.sse', { n })
      // Each event before the next publish: nothing waits in a buffer of
      // nginx's for more (proxy_buffering off, and the node's X-Accel-Buffering: no).
      t.match((await stream.until(1 + n))[n], { event: 'message', data: { type: 'message', topic: 'deploy.sse', seq: n, data: { n } } })
    }
    t.equal(response.complete, false, 'the stream is still open')
  })

  await t.test('plain HTTP is redirected to https', async (t) => {
    const answer = await call(`http://localhost:${rendered.plain}/sse/deploy.sse?lastEventId=e:1`)
    t.equal(answer.status, 301)
    // $host has no port: the redirect goes to 443, the TLS listener's port
    // in the file (here it listens on another).
    t.equal(answer.headers.location, 'https://localhost/sse/deploy.sse?lastEventId=e:1')
  })

  await t.test("the nodes log the client's address past nginx, and nginx's request id", async (t) => {
    // A client behind a proxy of its own on 127.0.0.1, trusted as nginx is:
    // nginx appends 127.0.0.1 to the X-Forwarded-For that proxy wrote, and
    // the node reads past both trusted hops to 203.0.113.7.
    const proxied = await call(`${base}/health?probe=proxied`, { ca, headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'chosen-by-the-client' } })
    t.equal(proxied.status, 200)
    const line = await logged(nodes, '/health?probe=proxied')
    t.equal(line.req.remoteAddress, '203.0.113.7')
    // $request_id (32 hex digits) replaces the client's: one id in nginx's
    // logs, the node's and the answer.
    t.match(line.reqId, /^[0-9a-f]{32}$/)
    t.equal(proxied.headers['x-request-id'], line.reqId)

    // A client at an address nobody trusts (127.0.0.2, loopback too) that
    // writes the header itself: the node sees the address nginx saw. Had
    // nginx passed the client's header on without appending its peer, the
    // node would believe 203.0.113.7 here; had it replaced the header, the
    // case above would see 127.0.0.1.
    const forged = await call(`${base}/health?probe=forged`, { ca, localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.7' } })
    t.equal(forged.status, 200)
    t.equal((await logged(nodes, '/health?probe=forged')).req.remoteAddress, '127.0.0.2')
  })

  await t.test('what the test catches: the config without its map, or without Host $http_host', async (t) => {
    const noMap = await render(t, replaceExactly(CONFIG, /^map \$http_upgrade[^}]*\}\n/m, 1, () => ''), addresses, certificate)
    t.match(await check(noMap), { code: 1, output: /unknown "connection_upgrade" variable/ }, 'nginx -t refuses it')

    // nginx would send Host: pubsub (the upstream's name), which the browser's Origin does not name.
    const noHost = await render(t, replaceExactly(CONFIG, /^ *proxy_set_header Host \$http_host;\n/m, 1, () => ''), addresses, certificate)
    await startNginx(t, noHost)
    const origin = `https://localhost:${noHost.tls}`
    t.equal((await openWebSocket(t, `wss://localhost:${noHost.tls}/ws`, origin, ca)).status, 403, 'every browser WebSocket is refused')
  })
})

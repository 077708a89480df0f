import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import WebSocket from 'ws'
import fastifyPubsub from '../../src/index.js'
import type { PubsubMessage } from '../../src/client/index.js'
import { eventually, Inbox, listen } from '../helper.js'
import { cuttable, sdk } from '../client/helper.js'
import { browserMissing, launch, openConsole, publishInPage, subscribeInPage } from './browser.js'

const missing = browserMissing()

const artifacts = new URL('../../test-artifacts/', import.meta.url)

async function postJson (url: string, data: unknown): Promise<Response> {
  return await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) })
}

t.test('the original story: two pages subscribe, a POST publishes, both show it', { skip: missing }, async (t) => {
  const { app, url } = await listen(t)
  const browser = await launch(t)
  const pages = [await openConsole(t, browser, `${url}/`), await openConsole(t, browser, `${url}/`)]
  const ids = await Promise.all(pages.map(async (page) => await page.textContent('#client-id')))
  t.match(ids[0], /^[\w-]{21}$/, 'the page shows its client id')
  t.not(ids[0], ids[1], 'each page has its own')
  t.match(await pages[0]?.textContent('#log li.system'), /welcome/, 'the greeting is in the log')

  for (const page of pages) await subscribeInPage(page, 'chat.lobby')
  t.equal(app.pubsub.counts().subscriptions, 2)
  const response = await postJson(`${url}/publish/chat.lobby`, { text: 'hello from curl' })
  t.match(await response.json(), { topic: 'chat.lobby', seq: 1, delivered: 2 })
  for (const page of pages) {
    const entry = await page.waitForSelector('#log li[data-topic="chat.lobby"][data-seq="1"]')
    t.match(await entry.textContent(), /chat\.lobby#1.*"text": "hello from curl"/s)
  }

  // A pattern shows which subscription matched.
  const page = pages[0]!
  await subscribeInPage(page, 'chat.*')
  await postJson(`${url}/publish/chat.help`, 42)
  t.match(await (await page.waitForSelector('#log li[data-topic="chat.help"]')).textContent(), /via chat\.\*/)

  // The topic list, refreshed on demand, with subscriber counts.
  await page.click('#refresh-topics')
  await page.waitForSelector('#topics tr[data-topic="chat.*"]')
  t.match(await page.textContent('#topics tr[data-topic="chat.lobby"]'), /chat\.lobby\s*2\s*1/)

  // Unsubscribe from the list: the server forgets it.
  await page.click('#subscriptions li[data-topic="chat.*"] button')
  await eventually(() => app.pubsub.counts().patterns === 0)
  t.equal(await page.$('#subscriptions li[data-topic="chat.*"]'), null)

  mkdirSync(artifacts, { recursive: true })
  await page.fill('#publish-topic', 'chat.lobby')
  await page.fill('#publish-data', '{"text": "and from the page", "tags": ["demo", "console"]}')
  await page.click('#publish-form button[type="submit"]')
  await page.waitForSelector('#log li[data-topic="chat.lobby"][data-seq="2"]')
  await page.screenshot({ path: new URL('console.png', artifacts).pathname, fullPage: false })
})

t.test('the publish form reaches a Node subscriber; invalid JSON shows an error and sends nothing', { skip: missing }, async (t) => {
  const { url } = await listen(t)
  const node = sdk(t, url, { WebSocket })
  await node.connect()
  const inbox = new Inbox<PubsubMessage>()
  await node.subscribe('orders.created', inbox.push).ready
  const browser = await launch(t)
  const page = await openConsole(t, browser, `${url}/`)

  await publishInPage(page, 'orders.created', '{"id": 1, "items": [1, 2]}')
  t.match(await inbox.next(), { topic: 'orders.created', data: { id: 1, items: [1, 2] }, seq: 1 })
  t.match(await page.textContent('#publish-result'), /#1/)

  await publishInPage(page, 'orders.created', '{"id": 2,')
  await page.waitForSelector('#publish-error:not(:empty)')
  t.match(await page.textContent('#publish-error'), /Not valid JSON/)
  t.equal(await page.getAttribute('#publish-data', 'aria-invalid'), 'true')

  await publishInPage(page, 'orders.created', 'plain words', 'text')
  t.match(await inbox.next(), { data: 'plain words', seq: 2 }, 'seq 2: the invalid JSON was never sent')
  t.equal(await page.textContent('#publish-error'), '')

  // Errors from the server show next to the form too.
  await publishInPage(page, 'orders.*', '1')
  await page.waitForSelector('#publish-error:not(:empty)')
  t.match(await page.textContent('#publish-error'), /INVALID_TOPIC/)
  await subscribeInPage(page, 'orders.>')
  await page.fill('#subscribe-topic', 'bad..topic')
  await page.press('#subscribe-topic', 'Enter')
  await page.waitForSelector('#subscribe-error:not(:empty)')
  t.match(await page.textContent('#subscribe-error'), /bad\.\.topic.*invalid/i)
  t.equal(await page.$('#subscriptions li[data-topic="bad..topic"]'), null)
})

t.test('pause holds messages back, resume shows them, clear empties the log', { skip: missing }, async (t) => {
  const { url } = await listen(t)
  const browser = await launch(t)
  const page = await openConsole(t, browser, `${url}/`)
  await subscribeInPage(page, 'ticks')
  await page.click('#clear')
  t.equal(await page.$$eval('#log li', (items) => items.length), 0)
  await page.click('#pause')
  t.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true')
  await postJson(`${url}/publish/ticks`, 1)
  await postJson(`${url}/publish/ticks`, 2)
  await page.waitForFunction("document.getElementById('pause').textContent === 'Resume (2 new)'")
  t.equal(await page.$$eval('#log li', (items) => items.length), 0, 'nothing shown while paused')
  await page.click('#pause')
  t.same(await page.$$eval('#log li', (items) => items.map((item) => item.getAttribute('data-seq'))), ['2', '1'], 'newest first')
})

t.test('the console works when the plugin is mounted under a prefix, and reconnects', { skip: missing }, async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, { prefix: '/realtime' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const browser = await launch(t)
  const page = await openConsole(t, browser, `${base}/realtime`)
  t.equal(page.url(), `${base}/realtime/`, 'redirected to the slash so relative URLs resolve under the prefix')
  await subscribeInPage(page, 'news.>')
  await postJson(`${base}/realtime/publish/news.today`, { headline: 'prefixed' })
  await page.waitForSelector('#log li[data-topic="news.today"]')
  await page.click('#refresh-topics')
  await page.waitForSelector('#topics tr[data-topic="news.>"]')

  const first = await page.textContent('#client-id')
  for (const socket of app.websocketServer.clients) socket.terminate()
  await page.waitForSelector('#state[data-state="reconnecting"]')
  await page.waitForFunction(`document.getElementById('state').dataset.state === 'open' &&
    document.getElementById('client-id').textContent !== ${JSON.stringify(first)}`)
  await eventually(() => app.pubsub.counts().patterns === 1)
  await postJson(`${base}/realtime/publish/news.later`, 'after the reconnect')
  t.match(await (await page.waitForSelector('#log li[data-topic="news.later"]')).textContent(), /after the reconnect/)
})

t.test("the browser's EventSource gets SSE and resumes by itself after the server cuts it", { skip: missing }, async (t) => {
  const { app, url } = await listen(t)
  const browser = await launch(t)
  // Chromium reports the cut stream on the console: expected here.
  const page = await openConsole(t, browser, `${url}/`, /ERR_INCOMPLETE_CHUNKED_ENCODING/)
  await page.evaluate(`
    window.seqs = []
    window.source = new EventSource('sse/ticker')
    window.source.onmessage = (event) => { window.seqs.push(JSON.parse(event.data).seq) }
  `)
  await eventually(async () => (await app.pubsub.topic('ticker'))?.subscribers === 1)
  for (let i = 1; i <= 3; i++) await app.pubsub.publish('ticker', i)
  await page.waitForFunction('window.seqs.length === 3')
  // Every HTTP connection goes, the stream's included; the page stays.
  app.server.closeAllConnections()
  await eventually(async () => (await app.pubsub.topic('ticker'))?.subscribers === 0)
  for (let i = 4; i <= 5; i++) await app.pubsub.publish('ticker', i)
  await eventually(async () => (await app.pubsub.topic('ticker'))?.subscribers === 1)
  await app.pubsub.publish('ticker', 6)
  await page.waitForFunction('window.seqs.length >= 6')
  t.same(await page.evaluate('window.seqs'), [1, 2, 3, 4, 5, 6], 'the two published while away came with the reconnect, once')
  await page.evaluate('window.source.close()')
})

t.test('with auth on and no token, the console says so, focuses the field and stops retrying', { skip: missing }, async (t) => {
  const secret = 'console-test-secret-0123456789abcdef'
  const { app, url } = await listen(t, { auth: { secret } })
  const { createSigner } = await import('fast-jwt')
  const jwt = createSigner({ key: secret })({ sub: 'console-user', pubsub: { subscribe: ['>'], publish: ['>'] } })
  let upgrades = 0
  app.server.on('upgrade', () => { upgrades++ })
  const browser = await launch(t)
  // Without a token the upgrade is refused (401): Chromium logs that, as it should.
  const page = await browser.newPage()
  page.setDefaultTimeout(10_000)
  await page.goto(`${url}/`)
  await page.waitForSelector('#token-hint:not(:empty)')
  t.equal(await page.textContent('#token-hint'), 'This server needs a token.')
  t.equal(await page.textContent('#state'), 'token needed')
  t.equal(await page.evaluate('document.activeElement.id'), 'token', 'the token field has the focus')
  t.equal(await page.getAttribute('#token', 'aria-invalid'), 'true')
  t.ok(upgrades >= 1, 'it did try')
  const tried = upgrades
  // Absence needs a window: 1.5 s holds the next three attempts of the
  // default backoff (250, 500, 1000 ms), had the loop gone on.
  await page.waitForTimeout(1500)
  t.equal(upgrades, tried, 'no attempt after the hint')
  t.equal(await page.textContent('#state'), 'token needed')

  await page.fill('#token', jwt)
  await page.press('#token', 'Enter')
  await page.waitForSelector('#state[data-state="open"]')
  t.match(page.url(), /#token=/, 'kept in the fragment, never sent in a request line')
  t.equal(await page.textContent('#token-hint'), '', 'no hint once connected')
  await subscribeInPage(page, 'secured')
  await app.pubsub.publish('secured', 'for console-user')
  await page.waitForSelector('#log li[data-topic="secured"]')
  await page.click('#refresh-topics')
  await page.waitForSelector('#topics tr[data-topic="secured"]')
  t.same((await app.pubsub.topic('secured'))?.clients, ['console-user'])
})

t.test('with auth on and a bad token, the console shows why the server refused it', { skip: missing }, async (t) => {
  const { url } = await listen(t, { auth: { secret: 'console-test-secret-0123456789abcdef' } })
  const browser = await launch(t)
  const page = await browser.newPage()
  page.setDefaultTimeout(10_000)
  await page.goto(`${url}/#token=not-a-jwt`)
  await page.waitForSelector('#token-hint:not(:empty)')
  t.match(await page.textContent('#token-hint'), /^This server refused the token: invalid token: .+\.$/)
  t.equal(await page.evaluate('document.activeElement.id'), 'token')
})

t.test('a page that fell behind on a conflating namespace shows what it skipped', { skip: missing }, async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 64 * 1024, namespaces: { 'prices.>': { conflate: true, historySize: 0 } } })
  // Through a proxy that stops passing the server's bytes on, as a frozen tab's network would.
  const proxy = await cuttable(t, url)
  const browser = await launch(t)
  const page = await openConsole(t, browser, `${proxy.url}/`)
  await subscribeInPage(page, 'prices.eur')
  proxy.stall()
  const payload = 'x'.repeat(8 * 1024)
  let i = 0
  for (; app.pubsubClients.conflated < 200; i++) {
    if (i === 20_000) throw new Error('never conflated')
    await app.pubsub.publish('prices.eur', { price: i, payload })
    await new Promise((resolve) => setImmediate(resolve))
  }
  proxy.flow()
  const latest = await page.waitForSelector(`#log li[data-topic="prices.eur"][data-seq="${i}"]`)
  await page.waitForSelector('#log li[data-topic="prices.eur"][data-skipped]')
  const said = await page.$$eval('#log li[data-skipped]', (items) => items.map((item) => Number(item.getAttribute('data-skipped'))))
  t.equal(said.reduce((sum, n) => sum + n, 0), app.pubsubClients.conflated, 'every skipped message is accounted for on the page')
  t.match(await page.textContent('#log li[data-skipped]'), /skipped \d+/, 'and said in words')
  t.match(await latest.textContent(), new RegExp(`"price": ${i - 1}`), 'the latest value is shown')
})

t.test('a server that is down is not taken for one that wants a token', { skip: missing }, async (t) => {
  const { app, url } = await listen(t)
  const browser = await launch(t)
  // The token probe may land while Fastify is closing, which answers 503
  // (return503OnClosing): the browser logs that as a failed resource.
  const page = await openConsole(t, browser, `${url}/`, /ERR_CONNECTION_REFUSED|WebSocket connection|status of 503/)
  await app.close()
  await page.waitForSelector('#log li.system >> text=closed')
  await page.waitForSelector('#state[data-state="reconnecting"] >> text=/attempt [2-9]/')
  t.equal(await page.textContent('#token-hint'), '', 'no token hint')
})

t.test('screenshots at 1280 and 375 px; on a narrow screen the live log comes first', { skip: missing }, async (t) => {
  const { url } = await listen(t)
  const browser = await launch(t)
  const page = await openConsole(t, browser, `${url}/`)
  await subscribeInPage(page, 'chat.>')
  await subscribeInPage(page, 'news.*')
  await postJson(`${url}/publish/news.sports`, { score: '2-1', minute: 78 })
  await postJson(`${url}/publish/chat.lobby`, { user: 'ada', text: 'hello from curl' })
  await page.waitForSelector('#log li[data-topic="chat.lobby"]')
  await page.click('#refresh-topics')
  await page.waitForSelector('#topics tr[data-topic="news.sports"]')

  // SCREENSHOTS_DIR=docs refreshes the README's pictures.
  const dir = process.env.SCREENSHOTS_DIR ?? mkdtempSync(join(tmpdir(), 'console-'))
  if (process.env.SCREENSHOTS_DIR === undefined) t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const wide = join(dir, 'console.png')
  await page.screenshot({ path: wide })
  const log = await page.$('.log-panel')
  const side = await page.$('.side')
  t.ok((await log!.boundingBox())!.x > (await side!.boundingBox())!.x, 'wide: the log is the right-hand column')

  await page.setViewportSize({ width: 375, height: 812 })
  const narrow = join(dir, 'console-narrow.png')
  await page.screenshot({ path: narrow })
  const logBox = (await log!.boundingBox())!
  t.ok(logBox.y < 812 / 2, `narrow: the log starts at ${logBox.y} px, in the first half of the viewport`)
  t.ok(logBox.y < (await side!.boundingBox())!.y, 'narrow: the log comes before the forms')
  t.ok(logBox.width <= 375, 'narrow: nothing is wider than the screen')
  t.equal(await page.evaluate('document.documentElement.scrollWidth'), 375, 'narrow: no sideways scrolling')

  for (const file of [wide, narrow]) {
    const png = readFileSync(file)
    t.ok(png.length > 1000, `${file} is not empty`)
    t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file} is a PNG`)
  }
})

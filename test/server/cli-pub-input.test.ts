// `fastify-pubsub pub`: where the message comes from (argument, stdin, file),
// how the topic and the URL are read, and what it adds to a refusal.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { listen } from '../helper.js'
import { finish } from './cli-process.js'

const secret = randomBytes(32).toString('hex')
const apiKey = randomBytes(16).toString('hex')
const jwt = (publish: string[]): string => createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'cli', pubsub: { subscribe: [], publish }, exp: Math.floor(Date.now() / 1000) + 600 })

t.test('the message from stdin (-) or a file (@path), 900 KB included', async (t) => {
  const { app, url } = await listen(t, { bodyLimit: 2 << 20 })
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-pub-'))
  const big = { text: 'x'.repeat(900 * 1024) }
  writeFileSync(join(dir, 'big.json'), JSON.stringify(big))
  const port = new URL(url).port
  const [stdin, file] = await Promise.all([
    // Without a scheme: http:// is assumed.
    finish(['pub', 'news.stdin', '-', '--url', `127.0.0.1:${port}`], {}, '{"via":"stdin"}\n'),
    finish(['pub', 'news.file', `@${join(dir, 'big.json')}`, '--url', url])
  ])
  t.equal(stdin.code, 0, stdin.err)
  t.match(JSON.parse(stdin.out), { topic: 'news.stdin', seq: 1 })
  t.equal(file.code, 0, file.err)
  t.match(JSON.parse(file.out), { topic: 'news.file', seq: 1 })
  const history = await app.inject({ url: '/topics/news.file/history' })
  t.same(history.json().messages[0].data, big, 'published whole')
  t.same((await app.inject({ url: '/topics/news.stdin/history' })).json().messages[0].data, { via: 'stdin' })
})

t.test('the topic is sent encoded: news?x=1 is refused, not published to news', async (t) => {
  const { app, url } = await listen(t)
  const refused = await finish(['pub', 'news?x=1', '1', '--url', url])
  t.equal(refused.code, 1)
  t.match(JSON.parse(refused.err), { statusCode: 400, code: 'PUBSUB_ERR_INVALID_TOPIC' })
  t.equal(refused.err.split('\n').length, 2, 'no hint: the body says it')
  t.equal(await app.pubsub.topic('news'), undefined, 'nothing on news')
})

t.test('PUBSUB_URL and PUBSUB_TOKEN, flags first; a hint under a 401, 403 or 404', async (t) => {
  const { url } = await listen(t, { auth: { secret, apiKey }, prefix: '/realtime' })
  const bare = await listen(t)
  const { port } = new URL(url)
  const cases: Array<[string, string[], Record<string, string>, number, RegExp]> = [
    ['from the environment', ['pub', 'a', '1'], { PUBSUB_URL: url, PUBSUB_TOKEN: apiKey }, 0, /^$/],
    ['flags beat the environment', ['pub', 'a', '2', '--url', `127.0.0.1:${port}/realtime/`, '--token', apiKey], { PUBSUB_URL: 'http://127.0.0.1:1', PUBSUB_TOKEN: 'wrong' }, 0, /^$/],
    ['no token', ['pub', 'a', '1'], { PUBSUB_URL: url }, 1, /^\{.*"statusCode":401.*\}\nfastify-pubsub: this server needs a token: pass --token or set PUBSUB_TOKEN\n$/],
    ['a bad token', ['pub', 'a', '1', '--url', url, '--token', 'wrong'], {}, 1, /^\{.*"statusCode":401.*\}\nfastify-pubsub: the server refused the token \(expired\? signed with another key\?\): check --token or PUBSUB_TOKEN\n$/],
    ['a token for another topic', ['pub', 'a', '1', '--url', url, '--token', jwt(['b'])], {}, 1, /^\{.*"statusCode":403.*\}\nfastify-pubsub: the token does not grant publishing to 'a'\n$/],
    ['a wrong prefix', ['pub', 'a', '1', '--url', `${bare.url}/wrong`], {}, 1, new RegExp(`^\\{.*"statusCode":404.*\\}\nfastify-pubsub: no publish route under ${bare.url}/wrong: check --url and the server's prefix\n$`)]
  ]
  const results = await Promise.all(cases.map(async ([, args, env]) => await finish(args, env)))
  results.forEach((result, i) => {
    const [why, , , code, err] = cases[i] as [string, string[], Record<string, string>, number, RegExp]
    t.equal(result.code, code, why)
    t.match(result.err, err, why)
    if (code === 0) t.match(JSON.parse(result.out), { topic: 'a' }, why)
  })
})

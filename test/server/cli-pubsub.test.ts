// `fastify-pubsub pub` and `sub` against a running server.
import { once } from 'node:events'
import t from 'tap'
import { eventually, listen } from '../helper.js'
import { finish, run } from './cli-process.js'

t.test('pub and sub against a running server, as JSON lines', async (t) => {
  const { app, url } = await listen(t)
  const sub = run(['sub', 'news.*', '--url', url])
  t.teardown(() => sub.child.kill('SIGKILL'))
  await eventually(async () => (await app.pubsub.topics()).patterns.length === 1, 15_000)
  const pub = await finish(['pub', 'news.sports', '{"score":"2-1"}', '--url', url])
  t.equal(pub.code, 0)
  t.match(JSON.parse(pub.out), { topic: 'news.sports', seq: 1, delivered: 1 })
  await eventually(() => sub.out().includes('\n'))
  t.match(JSON.parse(sub.out().split('\n')[0] as string), { topic: 'news.sports', data: { score: '2-1' }, seq: 1, subscription: 'news.*' })
  const exited = once(sub.child, 'exit')
  sub.child.kill('SIGINT')
  t.same(await exited, [0, null], 'SIGINT ends sub cleanly')

  const keyed = await finish(['pub', 'news.sports', '2', '--url', url, '--key', 'retry-me'])
  const repeated = await finish(['pub', 'news.sports', '2', '--url', url, '--key', 'retry-me'])
  t.match(JSON.parse(keyed.out), { seq: 2 })
  t.same(JSON.parse(repeated.out), { ...JSON.parse(keyed.out), duplicate: true }, 'run again with the same --key: published once')

  const refused = await finish(['pub', 'news.*', '1', '--url', url, '--token', 'ignored-when-auth-is-off'])
  t.equal(refused.code, 1)
  t.match(JSON.parse(refused.err), { statusCode: 400, code: 'PUBSUB_ERR_INVALID_TOPIC' })
  const badPattern = await finish(['sub', 'a..b', '--url', url])
  t.equal(badPattern.code, 1)
  t.match(badPattern.err, /INVALID_TOPIC/)
  await app.close()
  const away = await finish(['pub', 't', '1', '--url', `${url}/`])
  t.equal(away.code, 1)
  t.match(away.err, /^fastify-pubsub: cannot publish to http:\/\/127.0.0.1:\d+: .*ECONNREFUSED.*\n$/)
})

t.test('pub to a namespace with a schema: INVALID_MESSAGE names the failing path, exit 1', async (t) => {
  const { url } = await listen(t, { namespaces: { 'chat.>': { schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } } } } })
  const refused = await finish(['pub', 'chat.lobby', '{"text":1}', '--url', url])
  t.equal(refused.code, 1)
  t.match(JSON.parse(refused.err), { statusCode: 400, code: 'PUBSUB_ERR_INVALID_MESSAGE', message: /\/text must be string$/ })
  const ok = await finish(['pub', 'chat.lobby', '{"text":"hi"}', '--url', url])
  t.match(JSON.parse(ok.out), { topic: 'chat.lobby', seq: 1 }, 'no seq was taken by the refusal')
})

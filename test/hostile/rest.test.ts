// Hostile input over HTTP: exact status and Fastify error shape, then a
// normal publish still works.
import t from 'tap'
import { build } from '../helper.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const rows: Array<[string, string, Record<string, string>, string | undefined, number, string]> = [
  ['an empty JSON body', '/publish/a', JSON_TYPE, '', 400, 'FST_ERR_CTP_EMPTY_JSON_BODY'],
  ['invalid JSON', '/publish/a', JSON_TYPE, '{"a":', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
  ['a __proto__ body', '/publish/a', JSON_TYPE, '{"__proto__":{"polluted":true}}', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
  ['a constructor.prototype body', '/publish/a', JSON_TYPE, '{"constructor":{"prototype":{"polluted":true}}}', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
  ['a body over bodyLimit', '/publish/a', JSON_TYPE, JSON.stringify('x'.repeat(70_000)), 413, 'FST_ERR_CTP_BODY_TOO_LARGE'],
  ['a wrong content type', '/publish/a', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'],
  ['no content type and no body', '/publish/a', {}, undefined, 400, 'PUBSUB_ERR_BAD_REQUEST'],
  ['a pattern topic', '/publish/a.%3E', JSON_TYPE, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
  ['a 257-byte topic', `/publish/${'t'.repeat(257)}`, JSON_TYPE, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
  ['an encoded slash in the topic', '/publish/a%2Fb', JSON_TYPE, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
  ['a topic with a path after it', '/publish/a/b', JSON_TYPE, '1', 400, 'PUBSUB_ERR_INVALID_TOPIC'],
  ['JSON nested too deep to re-serialize', '/publish/a', JSON_TYPE, '['.repeat(20_000) + ']'.repeat(20_000), 400, 'PUBSUB_ERR_BAD_REQUEST']
]

for (const [name, url, headers, payload, statusCode, code] of rows) {
  t.test(`${name}: ${statusCode} ${code}`, async (t) => {
    const app = await build(t, { bodyLimit: 65536 })
    const res = await app.inject({ method: 'POST', url, headers, payload })
    t.equal(res.statusCode, statusCode)
    t.match(res.json(), { statusCode, code, error: String, message: String })
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype polluted')
    const ok = await app.inject({ method: 'POST', url: '/publish/after', payload: { fine: true } })
    t.equal(ok.statusCode, 200, 'still serving')
  })
}

t.test('GET /topics with hostile queries: 400 each', async (t) => {
  const app = await build(t)
  for (const url of ['/topics?limit=-1', '/topics?limit=99999', `/topics?prefix=${'p'.repeat(300)}`, `/topics?cursor=${'c'.repeat(500)}`, '/topics/%00']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 400, url.slice(0, 40))
    t.match(res.json(), { statusCode: 400, code: String })
  }
})

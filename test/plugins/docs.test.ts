import fastifySwagger from '@fastify/swagger'
import Fastify from 'fastify'
import t from 'tap'
import fastifyPubsub from '../../src/index.js'
import { build } from '../helper.js'

t.test('GET /docs/json: OpenAPI 3 with every REST route and its schemas', async (t) => {
  const app = await build(t, { prefix: '/rt' })
  const res = await app.inject('/rt/docs/json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc, { openapi: /^3\./, info: { title: 'fastify-pubsub' } })
  t.same(Object.keys(doc.paths).sort(), ['/rt/health', '/rt/metrics', '/rt/publish/{topic}', '/rt/ready', '/rt/sse/{topic}', '/rt/topics', '/rt/topics/{topic}'], 'the REST routes, not /ws nor the console')
  t.equal(doc.externalDocs, undefined, 'no link to a page that does not exist')
  const publish = doc.paths['/rt/publish/{topic}'].post
  t.match(publish, {
    parameters: [{ in: 'path', name: 'topic', required: true, schema: { type: 'string' } }],
    requestBody: {
      required: true,
      content: {
        'application/json': { schema: { example: { score: '2-1' } } },
        'text/plain': { schema: { type: 'string', example: String } }
      }
    },
    responses: { 200: { content: { 'application/json': { schema: { required: ['topic', 'seq', 'epoch', 'delivered'] } } } } }
  })
  t.same(publish.parameters.map((p: { name: string }) => p.name).sort(), ['idempotency-key', 'topic'])
  t.ok(doc.paths['/rt/sse/{topic}'].get.parameters.some((p: { in: string, name: string }) => p.in === 'path' && p.name === 'topic'))
  const list = doc.paths['/rt/topics'].get
  t.same(list.parameters.map((p: { name: string }) => p.name).sort(), ['cursor', 'limit', 'prefix'])
  t.match(list.responses[200].content['application/json'].schema, { properties: { topics: { type: 'array' }, patterns: { type: 'array' } } })
  const one = doc.paths['/rt/topics/{topic}'].get
  t.match(one.responses[200].content['application/json'].schema, { anyOf: [{ required: ['topic', 'subscribers', 'seq', 'epoch'] }, { required: ['topic', 'seq', 'epoch', 'messages'] }] })
  t.same(one.parameters.map((p: { name: string }) => p.name).sort(), ['limit', 'since', 'topic'])
  const ui = await app.inject('/rt/docs/')
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
})

t.test('docs: false serves no document', async (t) => {
  const app = await build(t, { docs: false })
  t.equal((await app.inject('/docs/json')).statusCode, 404)
})

t.test("a host app's own @fastify/swagger documents our routes with its own", async (t) => {
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(fastifySwagger, { openapi: { info: { title: 'host', version: '9' } } })
  host.get('/mine', async () => 'ok')
  await host.register(fastifyPubsub, { prefix: '/rt' })
  await host.ready()
  const doc = host.swagger() as { info: { title: string }, paths: Record<string, unknown> }
  t.equal(doc.info.title, 'host')
  t.ok('/mine' in doc.paths && '/rt/publish/{topic}' in doc.paths, 'one document with both, our paths named as in ours')
  t.equal((await host.inject('/rt/docs/json')).statusCode, 404, 'no second document')
})

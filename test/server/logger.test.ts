import Fastify from 'fastify'
import type { IncomingMessage } from 'node:http'
import t from 'tap'
import { installed, loggingOptions } from '../../src/server/logger.js'

const transport = (options: ReturnType<typeof loggingOptions>): unknown => (options.logger as { transport?: unknown }).transport

t.test('pretty logs when asked, or on a terminal with pino-pretty installed; JSON lines otherwise', async (t) => {
  const auto = { logLevel: 'info', logPretty: undefined, trustProxy: [] }
  t.match(transport(loggingOptions(auto, true, true)), { target: 'pino-pretty' }, 'a terminal')
  t.equal(transport(loggingOptions(auto, false, true)), undefined, 'a pipe or a file')
  t.equal(transport(loggingOptions(auto, true, false)), undefined, 'a terminal without pino-pretty (a production install)')
  t.match(transport(loggingOptions({ ...auto, logPretty: true }, false, true)), { target: 'pino-pretty' }, 'asked for')
  t.equal(transport(loggingOptions({ ...auto, logPretty: false }, true, true)), undefined, 'refused')
  t.throws(() => loggingOptions({ ...auto, logPretty: true }, true, false), { code: 'PUBSUB_ERR_OPTION', message: /logPretty.*pino-pretty/ })
  t.match(transport(loggingOptions(auto, true)), { target: 'pino-pretty' }, 'pino-pretty is a dev dependency here')
  t.ok(installed('pino-pretty'))
  t.notOk(installed('pino-pretty-that-is-not-there'))
})

t.test('request ids and addresses: from a trusted proxy, its x-request-id and the address past it', async (t) => {
  const { genReqId } = loggingOptions({ logLevel: 'info', logPretty: false, trustProxy: ['127.0.0.1'] }, false)
  const id = (header?: string): string => (genReqId as (r: IncomingMessage) => string)({ headers: header === undefined ? {} : { 'x-request-id': header }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage)
  t.equal(id('abc-123:4.5_6'), 'abc-123:4.5_6')
  for (const bad of [undefined, '', 'a b', 'x\n{"level":60}', 'y'.repeat(65)]) t.match(id(bad), /^[\w-]{12}$/, JSON.stringify(bad))
  t.not(id(), id(), 'random')

  const app = Fastify(loggingOptions({ logLevel: 'silent', logPretty: false, trustProxy: ['127.0.0.1'] }, false))
  t.teardown(() => app.close())
  app.get('/id', async (request) => ({ id: request.id, ip: request.ip }))
  t.same((await app.inject({ url: '/id', headers: { 'x-request-id': 'from-proxy-1', 'x-forwarded-for': '203.0.113.9' } })).json(), { id: 'from-proxy-1', ip: '203.0.113.9' }, 'Fastify uses both')
  // A proxy that appends: the client wrote the first entry, the proxy the last.
  t.match((await app.inject({ url: '/id', headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' } })).json(), { ip: '203.0.113.9' }, 'the address the proxy saw, not the one the client wrote')
  t.match((await app.inject({ url: '/id', headers: { 'x-request-id': 'a b' } })).json(), { id: /^[\w-]{12}$/ })
})

t.test('from anywhere else, a client can choose neither its request id nor its address', async (t) => {
  for (const trustProxy of [[], ['10.0.0.0/8']]) {
    const app = Fastify(loggingOptions({ logLevel: 'silent', logPretty: false, trustProxy }, false))
    t.teardown(() => app.close())
    app.get('/id', async (request) => ({ id: request.id, ip: request.ip }))
    t.match((await app.inject({ url: '/id', headers: { 'x-request-id': 'chosen-1', 'x-forwarded-for': '203.0.113.9' } })).json(), { id: /^[\w-]{12}$/, ip: '127.0.0.1' }, JSON.stringify(trustProxy))
  }
})

import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import * as errors from '../../src/protocol/errors.js'

// The error codes of shared/PROTOCOL.md, version 1.
const CONTRACT_CODES = ['BAD_JSON', 'BAD_REQUEST', 'UNKNOWN_ACTION', 'INVALID_TOPIC', 'BAD_FRAME',
  'TOO_MANY_SUBSCRIPTIONS', 'RATE_LIMITED', 'FORBIDDEN', 'UNAVAILABLE',
  // Version 1.1.
  'INVALID_MESSAGE']
// Errors that never reach a WebSocket frame.
const NOT_ON_THE_WIRE = ['OPTION', 'TOPIC_NOT_FOUND', 'BAD_CURSOR', 'UNAUTHORIZED']

t.test('each export is named after its code, and every wire code is in the contract', async (t) => {
  const constructors = Object.entries(errors).filter(([name]) => name.startsWith('PUBSUB_ERR_'))
  const suffixes: string[] = []
  for (const [name, Ctor] of constructors) {
    const err = new (Ctor as new (...args: unknown[]) => Error & { code: string, statusCode: number })('x', 'y', 'z')
    t.equal(err.code, name)
    t.ok(err.statusCode >= 400, `${name} has an HTTP status`)
    const suffix = errors.wireCode(err) as string
    suffixes.push(suffix)
    if (!NOT_ON_THE_WIRE.includes(suffix)) t.ok(CONTRACT_CODES.includes(suffix), `${suffix} is a contract code`)
  }
  t.same(CONTRACT_CODES.filter((c) => !suffixes.includes(c)), [], 'every contract code has a constructor')
  t.equal(errors.wireCode(new Error('plain')), undefined)
  t.equal(errors.wireCode({ code: 'FST_ERR_X' }), undefined)
})

t.test('every error code is documented: wire codes in protocol.md, the others in full in docs/', async (t) => {
  // As fastify's test/internals/errors.test.js holds its error table to docs/Reference/Errors.md.
  const docs = new URL('../../docs/', import.meta.url)
  const protocol = readFileSync(new URL('protocol.md', docs), 'utf8')
  const all = readdirSync(docs).filter((name) => name.endsWith('.md')).map((name) => readFileSync(new URL(name, docs), 'utf8')).join('\n')
  for (const name of Object.keys(errors).filter((name) => name.startsWith('PUBSUB_ERR_'))) {
    const suffix = name.slice('PUBSUB_ERR_'.length)
    if (NOT_ON_THE_WIRE.includes(suffix)) t.ok(all.includes(`\`${name}\``), `${name} is in docs/`)
    else t.ok(protocol.includes(`\`${suffix}\``), `${suffix} is in docs/protocol.md`)
  }
})

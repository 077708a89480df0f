// Shared by the AsyncAPI tests: the contract's names, and the parser's verdict.
import { Parser, type AsyncAPIDocumentInterface } from '@asyncapi/parser'
import type { Test } from 'tap'

// shared/PROTOCOL.md 1.1: its actions, server frames, error and close codes.
export const CONTRACT = {
  actions: ['subscribe', 'unsubscribe', 'publish', 'ping', 'auth'],
  frames: ['welcome', 'ack', 'message', 'error', 'pong', 'reset'],
  codes: ['BAD_JSON', 'BAD_REQUEST', 'UNKNOWN_ACTION', 'INVALID_TOPIC', 'BAD_FRAME', 'TOO_MANY_SUBSCRIPTIONS', 'RATE_LIMITED', 'FORBIDDEN', 'UNAVAILABLE', 'INVALID_MESSAGE'],
  closeCodes: ['1001', '1008', '1009', '1013']
}

export const parser = new Parser()

/** The parsed document; fails the test on any diagnostic of severity error (warnings, such as "3.1.0 exists", pass). */
export async function parseValid (t: Test, doc: unknown): Promise<AsyncAPIDocumentInterface> {
  const { document, diagnostics } = await parser.parse(typeof doc === 'string' ? doc : JSON.stringify(doc))
  const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code} at ${d.path.join('/')}: ${d.message}`)
  t.same(errors, [], 'no error diagnostics')
  t.ok(document, 'the parser returns a document')
  return document as AsyncAPIDocumentInterface
}

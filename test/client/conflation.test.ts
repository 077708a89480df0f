// The SDK behind a client that stopped reading, on a conflating namespace
// (PROTOCOL.md 1.1): handlers see `skipped`, and the declared jump in seq is
// not taken for a loss to recover.
import t from 'tap'
import type { PubsubMessage } from '../../src/client/index.js'
import { eventually, Inbox, listen } from '../helper.js'
import { cuttable, sdk } from './helper.js'

t.test('a conflated message reaches the handler with skipped; no resubscribe, no recovery event, the position moves on', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 64 * 1024, namespaces: { 'prices.>': { conflate: true, historySize: 0 } } })
  const proxy = await cuttable(t, url)
  const client = sdk(t, proxy.url)
  const recoveries = new Inbox<unknown>()
  client.on('recovery', recoveries.push)
  await client.connect()
  const exact = new Inbox<PubsubMessage>()
  const pattern = new Inbox<PubsubMessage>()
  await client.subscribe('prices.eur', exact.push).ready
  await client.subscribe('prices.*', pattern.push).ready
  proxy.stall()
  const payload = 'x'.repeat(8 * 1024)
  let last = ''
  for (let i = 0; app.pubsubClients.conflated < 500; i++) {
    if (i === 20_000) throw new Error('never conflated')
    last = `${i}:${payload}`
    await app.pubsub.publish('prices.eur', last)
    await new Promise((resolve) => setImmediate(resolve))
  }
  proxy.flow()
  await eventually(() => exact.items.at(-1)?.data === last, 10_000)
  const skipped = exact.items.filter((m) => m.skipped !== undefined)
  t.ok(skipped.length > 0, 'some messages say what they skipped')
  t.equal(exact.items.reduce((sum, m) => sum + (m.skipped ?? 0), 0), app.pubsubClients.conflated, 'the handler is told of every message it did not get')
  t.same(exact.items.map((m) => m.seq), [...new Set(exact.items.map((m) => m.seq))].sort((a, b) => a - b), 'in order, none twice')
  await eventually(() => pattern.items.at(-1)?.data === last)
  t.same(pattern.items.map((m) => [m.seq, m.skipped, m.subscription]), exact.items.map((m) => [m.seq, m.skipped, 'prices.*']), 'the pattern handler gets the same, with its subscription')
  t.same(client.position('prices.eur')?.seq, exact.items.at(-1)?.seq, 'the position is the last seq')
  await app.pubsub.publish('prices.eur', 'after')
  await eventually(() => exact.items.at(-1)?.data === 'after')
  t.same([exact.items.at(-1)?.seq, exact.items.at(-1)?.skipped], [(exact.items.at(-2)?.seq as number) + 1, undefined], 'caught up: the next seq, nothing skipped')
  t.equal(recoveries.items.length, 0, 'no recovery: the gap was declared, not lost')
})

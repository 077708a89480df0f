// The SDK across connections cut by the server: every message exactly once, in order.
import t from 'tap'
import type { PubsubMessage } from '../../src/client/index.js'
import { eventually, Inbox, listen } from '../helper.js'
import { scriptedServer, sdk } from './helper.js'

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const seeds = process.env.RECOVERY_SEED !== undefined ? [Number(process.env.RECOVERY_SEED)] : [1, 2, 3, 4, 5]

for (const seed of seeds) {
  t.test(`1,000 publishes at full speed, connection terminated by the server twice (seed ${seed}): seq 1..1000 exactly once`, async (t) => {
    const next = random(seed)
    const cuts = new Set([1 + Math.floor(next() * 998), 1 + Math.floor(next() * 998)])
    t.comment(`cuts after publishes ${[...cuts].join(', ')}; rerun with RECOVERY_SEED=${seed}`)
    const { app, url } = await listen(t, { historySize: 1000 })
    const client = sdk(t, url, { reconnect: { initialDelay: 5, maxDelay: 50 } })
    await client.connect()
    const seqs: number[] = []
    const recoveries = new Inbox<{ topic: string, recovered: boolean }>()
    client.on('recovery', recoveries.push)
    await client.subscribe('stream', (message: PubsubMessage) => { seqs.push(message.seq) }).ready
    for (let i = 1; i <= 1000; i++) {
      await app.pubsub.publish('stream', i)
      if (cuts.has(i)) for (const socket of app.websocketServer.clients) socket.terminate()
      if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await eventually(() => seqs.length >= 1000 && client.state === 'open', 10_000)
    t.same(seqs, Array.from({ length: 1000 }, (_, i) => i + 1), `seed ${seed}: in order, no gap, no duplicate`)
    t.ok(recoveries.items.length >= 1 && recoveries.items.every((r) => r.recovered), 'each resubscription recovered')
  })
}

const message = (topic: string, seq: number): string => JSON.stringify({ type: 'message', topic, data: seq, seq, ts: 0 })

t.test('a seq at or below the position is a duplicate; a reset (the sequence restarted) moves the position and says recovered: false', async (t) => {
  const { url } = await scriptedServer(t, (request, socket) => {
    if (request.action !== 'subscribe') return
    socket.send(JSON.stringify({ type: 'ack', id: request.id, action: 'subscribe', topic: request.topic, seq: 0, epoch: 'e' }))
    if (request.topic !== 'dup') return
    for (const seq of [1, 2, 1]) socket.send(message('dup', seq))
    socket.send(JSON.stringify({ type: 'reset', topic: 'dup', seq: 0, epoch: 'f' }))
    for (const seq of [1, 2]) socket.send(message('dup', seq))
    // Resets of what the client has no subscription to, or of a pattern.
    socket.send(JSON.stringify({ type: 'reset', topic: 'other', seq: 0, epoch: 'f' }))
    socket.send(JSON.stringify({ type: 'reset', topic: 'dup.*' }))
  })
  const client = sdk(t, url)
  const recoveries = new Inbox<{ topic: string, recovered: boolean }>()
  client.on('recovery', recoveries.push)
  await client.connect()
  await client.subscribe('dup.*', () => {}).ready
  const inbox = new Inbox<PubsubMessage>()
  client.subscribe('dup', inbox.push)
  for (let i = 0; i < 4; i++) await inbox.next()
  t.same(inbox.items.map((m) => m.seq), [1, 2, 1, 2], 'the repeat of 1 dropped; the new sequence handed over')
  t.same(await recoveries.next(), { topic: 'dup', recovered: false })
  t.same(await recoveries.next(), { topic: 'dup.*', recovered: false }, 'a pattern is told too')
  t.same(client.position('dup'), { seq: 2, epoch: 'f' }, 'the next resubscribe asks from the new epoch')
  t.equal(recoveries.items.length, 2)
})

t.test('a gap in the seqs is filled: the client resubscribes from its position and the missing messages come, in order', async (t) => {
  const { url, requests } = await scriptedServer(t, (request, socket) => {
    if (request.action !== 'subscribe') return
    const ack = (fields: object): void => { socket.send(JSON.stringify({ type: 'ack', id: request.id, action: 'subscribe', topic: 'gap', ...fields })) }
    if (request.since === undefined) {
      ack({ seq: 0, epoch: 'e' })
      for (const seq of [1, 3, 4]) socket.send(message('gap', seq))
    } else if (request.since === 1) {
      ack({ seq: 4, epoch: 'e', recovered: true })
      for (const seq of [2, 3, 4, 5]) socket.send(message('gap', seq))
      // Past what is retained: no recovery this time.
      socket.send(message('gap', 9))
    } else {
      ack({ seq: 12, epoch: 'e', recovered: false })
      socket.send(message('gap', 13))
    }
  })
  const client = sdk(t, url)
  const recoveries = new Inbox<{ topic: string, recovered: boolean }>()
  client.on('recovery', recoveries.push)
  await client.connect()
  const inbox = new Inbox<PubsubMessage>()
  client.subscribe('gap', inbox.push)
  for (let i = 0; i < 6; i++) await inbox.next()
  t.same(inbox.items.map((m) => m.seq), [1, 2, 3, 4, 5, 13], 'no message twice, none out of order; the unfillable gap is declared')
  t.same(requests.filter((r) => r.action === 'subscribe').map((r) => [r.since, r.epoch]), [[undefined, undefined], [1, 'e'], [5, 'e']])
  t.same(recoveries.items, [{ topic: 'gap', recovered: true }, { topic: 'gap', recovered: false }])
  t.same(client.position('gap'), { seq: 13, epoch: 'e' })
})

t.test('a resubscribe answered UNAVAILABLE or RATE_LIMITED is tried again', async (t) => {
  let subscribes = 0
  const { url } = await scriptedServer(t, (request, socket) => {
    if (request.action !== 'subscribe') return
    subscribes++
    const code = subscribes === 1 ? 'UNAVAILABLE' : subscribes === 2 ? 'RATE_LIMITED' : undefined
    socket.send(JSON.stringify(code === undefined
      ? { type: 'ack', id: request.id, action: 'subscribe', topic: request.topic, seq: 0, epoch: 'e' }
      : { type: 'error', id: request.id, code, message: 'not now' }))
  })
  const client = sdk(t, url)
  const errors = new Inbox<{ code: string }>()
  client.on('error', errors.push)
  await client.connect()
  const subscription = client.subscribe('later', () => {})
  t.match(await errors.next(), { code: 'UNAVAILABLE' })
  t.match(await errors.next(), { code: 'RATE_LIMITED' })
  t.match(await subscription.ready, { topic: 'later', epoch: 'e' }, 'the third try is acknowledged')
  t.equal(subscribes, 3)
  t.same(client.subscriptions, ['later'])
})

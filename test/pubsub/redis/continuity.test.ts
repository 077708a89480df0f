// The Redis engines' rule for live messages (continuity.ts), with the
// snapshot's reply and the live messages in the orders two Redis
// connections can give them: the subscriber connection's messages and the
// command connection's reply race (the engine conformance suite's
// "publishes racing a recovering subscribe" met them 1 run in 5).
import t from 'tap'
import { Continuity } from '../../../src/pubsub/redis/continuity.js'
import { decodeRetained } from '../../../src/pubsub/redis/codec.js'
import { Message } from '../../../src/pubsub/message.js'
import type { Position } from '../../../src/pubsub/session.js'
import { eventually } from '../../helper.js'

const EPOCH = 'e1'
const message = (seq: number): Message => new Message('t', seq, EPOCH, Date.now(), JSON.stringify(seq))

/** A Continuity whose topic `t` has history 1..`latest` (a snapshot reads it), and what it delivered and told. */
function following (latest: () => number): { continuity: Continuity, delivered: number[], resets: Position[], snapshots: () => number } {
  const delivered: number[] = []
  const resets: Position[] = []
  let snapshots = 0
  const continuity = new Continuity({
    snapshot: async () => {
      snapshots++
      const entries = Array.from({ length: latest() }, (_, i) => `${i + 1}\n${Date.now()}\n${i + 1}`)
      return [latest(), EPOCH, entries]
    },
    retained: (_topic, entries) => decodeRetained(entries, 0),
    deliver: (m) => { delivered.push(m.seq) },
    reset: (_topic, position) => { resets.push(position) }
  })
  return { continuity, delivered, resets, snapshots: () => snapshots }
}

t.test('a live message delivered before the first snapshot\'s reply is where the node has got to: no catch-up, no duplicate', async (t) => {
  const { continuity, delivered, resets, snapshots } = following(() => 16)
  continuity.expect('t')
  // 15 is published after the snapshot read seq 14, and arrives before its reply.
  continuity.receive(message(15))
  continuity.follow('t', { seq: 14, epoch: EPOCH })
  continuity.receive(message(16))
  continuity.receive(message(17))
  t.same(delivered, [15, 16, 17], 'each once, in order')
  t.equal(snapshots(), 0, 'no gap seen, so no history read')
  t.same(resets, [])
})

t.test('messages at or below the first snapshot that arrive after it are delivered once (pattern subscribers wait for them)', async (t) => {
  const { continuity, delivered } = following(() => 14)
  continuity.expect('t')
  continuity.follow('t', { seq: 14, epoch: EPOCH })
  for (const seq of [13, 14, 15, 16]) continuity.receive(message(seq))
  t.same(delivered, [13, 14, 15, 16])
  // Delivered past the snapshot now: an old seq again is a duplicate.
  continuity.receive(message(16))
  t.same(delivered, [13, 14, 15, 16], 'a seq it delivered is not delivered again')
})

t.test('after a catch-up, live copies of what history gave are dropped; forget ends both states', async (t) => {
  let latest = 12
  const { continuity, delivered, resets } = following(() => latest)
  continuity.expect('t')
  continuity.follow('t', { seq: 10, epoch: EPOCH })
  latest = 13
  continuity.receive(message(13))
  await eventually(() => delivered.length === 3)
  t.same(delivered, [11, 12, 13], 'the gap from history, then the message that waited')
  continuity.receive(message(12))
  continuity.receive(message(14))
  t.same(delivered, [11, 12, 13, 14])

  // A resubscribe, and history that lacks what it may have missed: told where delivery goes on, as a client is (seq and epoch, nothing else).
  latest = 0
  continuity.catchUpAll()
  await eventually(() => resets.length === 1)
  t.same(Object.keys(resets[0] as object).sort(), ['epoch', 'seq'], 'a reset position is seq and epoch')

  continuity.forget('t')
  continuity.expect('t')
  continuity.receive(message(20))
  continuity.forget('t')
  continuity.follow('t', { seq: 30, epoch: EPOCH })
  continuity.receive(message(31))
  t.same(delivered, [11, 12, 13, 14, 20, 31], 'what was delivered before a forget does not carry over')
})

import t from 'tap'
import { Message } from '../../src/pubsub/message.js'
import { ReplayGate } from '../../src/transport/replay-gate.js'

const message = (topic: string, seq: number, epoch = 'e1'): Message => new Message(topic, seq, epoch, 0, String(seq))
const frame = (m: Message): Buffer => Buffer.from(`${m.topic}:${m.epoch}:${m.seq}`)

/** Offers `m` as a delivery of an exact subscription (or of `pattern`) and says what became of it. */
function deliver (gate: ReplayGate, m: Message, pattern?: string): 'sent' | 'held or dropped' {
  return gate.open || gate.offer(m, pattern, frame(m)) ? 'sent' : 'held or dropped'
}

t.test('open until a hold: every delivery passes', async (t) => {
  const gate = new ReplayGate()
  t.ok(gate.open)
  t.equal(deliver(gate, message('a', 1)), 'sent')
  t.equal(gate.heldBytes, 0)
})

t.test('hold: the held key\'s messages wait, others pass; release sends them past the floor and sets it', async (t) => {
  const gate = new ReplayGate()
  gate.hold('a')
  t.notOk(gate.open)
  t.ok(gate.holding('a'))
  t.notOk(gate.holding('b'))
  t.equal(deliver(gate, message('b', 1)), 'sent', 'another topic passes')
  t.equal(deliver(gate, message('a', 3)), 'held or dropped')
  t.equal(deliver(gate, message('a', 4)), 'held or dropped')
  t.equal(deliver(gate, message('a', 5)), 'held or dropped')
  t.equal(gate.heldBytes, 3 * 'a:e1:3'.length, 'held bytes are counted, for the caller\'s bound')
  // The ack (or replay) ended at 4: 3 and 4 were in it.
  t.same(gate.release({ seq: 4, epoch: 'e1' }).map(({ frame }) => String(frame)), ['a:e1:5'], 'only what came after the floor')
  t.notOk(gate.holding('a'))
  t.equal(gate.heldBytes, 0)
  t.notOk(gate.open, 'the floor stays')
  t.equal(deliver(gate, message('a', 4)), 'held or dropped', 'a late live copy at the floor is dropped')
  t.equal(deliver(gate, message('b', 2)), 'sent', 'other topics are not behind it')
  t.equal(deliver(gate, message('a', 6)), 'sent', 'the first message past the floor passes')
  t.ok(gate.open, 'and removes it')
  t.equal(deliver(gate, message('a', 4)), 'sent', 'no floor any more')
})

t.test('another epoch is never behind the floor: the sequence restarted', async (t) => {
  const gate = new ReplayGate()
  gate.hold('a')
  t.same(gate.release({ seq: 10, epoch: 'e1' }), [])
  t.equal(deliver(gate, message('a', 1, 'e2')), 'sent')
  t.ok(gate.open)
})

t.test('a pattern: held by subscription; no floor, and floors apply to exact deliveries only', async (t) => {
  const gate = new ReplayGate()
  gate.hold('a')
  gate.release({ seq: 5, epoch: 'e1' })
  gate.hold('news.*')
  t.equal(deliver(gate, message('news.x', 1), 'news.*'), 'held or dropped')
  t.equal(deliver(gate, message('a', 3), 'a.>'), 'sent', 'through a pattern, the topic floor does not apply')
  t.equal(deliver(gate, message('a', 3)), 'held or dropped', 'exactly, it does')
  t.same(gate.release(undefined).map(({ frame }) => String(frame)), ['news.x:e1:1'], 'a failed subscribe or a pattern: everything held goes out')
  t.notOk(gate.open, 'the topic floor of `a` stays')
  gate.forget('a')
  t.ok(gate.open, 'forget: unsubscribed, or reset')
})

t.test('a new hold of a key drops its old floor; forgetting another key keeps the gate shut while holding', async (t) => {
  const gate = new ReplayGate()
  gate.hold('a')
  gate.release({ seq: 5, epoch: 'e1' })
  gate.hold('a')
  gate.forget('b')
  t.notOk(gate.open, 'still holding')
  t.same(gate.release(undefined), [])
  t.ok(gate.open, 'the old floor went with the new hold')
  t.equal(deliver(gate, message('a', 2)), 'sent')
})

t.test('drop: what is held goes, counted; the hold stays until release', async (t) => {
  const gate = new ReplayGate()
  gate.hold('a')
  deliver(gate, message('a', 1))
  deliver(gate, message('a', 2))
  t.equal(gate.drop(), 2)
  t.equal(gate.heldBytes, 0)
  t.ok(gate.holding('a'))
  t.equal(gate.drop(), 0, 'twice is nothing more')
  t.same(gate.release(undefined), [])
})

import t from 'tap'
import { Message } from '../../src/pubsub/message.js'

const message = new Message('prices.a', 7, 'e1', 1000, '{"price":3}')

t.test('a conflated delivery says what it skipped, on WebSocket and SSE, exact or through a pattern', async (t) => {
  const frame = message.skipping(undefined, 4, false)
  t.equal(frame[0], 0x81, 'a whole text frame')
  t.same(JSON.parse(String(frame.subarray(2))), { type: 'message', topic: 'prices.a', data: { price: 3 }, seq: 7, ts: 1000, skipped: 4 })
  t.equal(String(message.skipping(undefined, 4, true)), 'id: e1:7\ndata: {"type":"message","topic":"prices.a","data":{"price":3},"seq":7,"ts":1000,"skipped":4}\n\n', 'an exact stream\'s event resumes from its id')
  t.equal(String(message.skipping('prices.*', 2, true)), 'data: {"type":"message","topic":"prices.a","subscription":"prices.*","data":{"price":3},"seq":7,"ts":1000,"skipped":2}\n\n', 'a pattern stream\'s has no id')
  t.notMatch(String(message.frame()), /skipped/, 'the shared frame never says it')
})

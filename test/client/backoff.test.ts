import t from 'tap'
import { defaultReconnect, reconnectDelay } from '../../src/client/index.js'

t.test('delays double from initialDelay and stop at maxDelay', async (t) => {
  const options = { ...defaultReconnect, initialDelay: 100, maxDelay: 1000 }
  const longest = Array.from({ length: 10 }, (_, attempt) => reconnectDelay(attempt, options, () => 0))
  t.same(longest, [100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000])
  t.equal(reconnectDelay(500, options, () => 0), 1000, 'no overflow after many attempts')
})

t.test('jitter takes up to its fraction off, never more, never below zero', async (t) => {
  const options = { ...defaultReconnect, initialDelay: 100, maxDelay: 1000, jitter: 0.5 }
  t.equal(reconnectDelay(3, options, () => 0), 800)
  t.equal(reconnectDelay(3, options, () => 0.999999), 400)
  for (let attempt = 0; attempt < 50; attempt++) {
    const delay = reconnectDelay(attempt, options)
    t.ok(delay >= 0 && delay <= options.maxDelay, `attempt ${attempt}: ${delay} within [0, maxDelay]`)
  }
  t.equal(reconnectDelay(3, { ...options, jitter: 1 }, () => 0.999999), 0)
})

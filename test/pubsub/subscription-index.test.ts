import t from 'tap'
import { Message } from '../../src/pubsub/message.js'
import type { Subscriber } from '../../src/pubsub/session.js'
import { SubscriptionIndex, type IndexedSession } from '../../src/pubsub/subscription-index.js'
import { matches } from '../../src/protocol/topic.js'

/** What the broker's sessions are to the index. */
function indexed (subscriber: Subscriber): IndexedSession {
  return { subscriber, keys: new Set(), keyBytes: 0, mark: 0 }
}

/** A session that records the topics and subscriptions it is handed. */
function recorder (): { session: IndexedSession, got: Array<[string, string | undefined]> } {
  const got: Array<[string, string | undefined]> = []
  return { session: indexed({ deliver (m, via) { got.push([m.topic, via]) } }), got }
}

// A small deterministic generator, so a failure can be replayed from its seed.
function random (seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
}

t.test('the trie agrees with matches() while patterns come and go', async (t) => {
  const seed = 20261126
  const next = random(seed)
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)] as T
  const tokens = ['a', 'b', 'c']
  const randomTopic = (): string => Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(tokens)).join('.')
  const randomPattern = (): string => {
    const parts = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick([...tokens, '*', '*']))
    if (next() < 0.3) parts[parts.length - 1] = '>'
    return parts.join('.')
  }
  const index = new SubscriptionIndex()
  const sessions = Array.from({ length: 8 }, () => recorder())
  for (let round = 0; round < 300; round++) {
    const { session } = pick(sessions)
    const key = next() < 0.5 ? randomPattern() : randomTopic()
    if (next() < 0.6) index.add(session, key)
    else index.remove(session, key)

    const topic = randomTopic()
    for (const s of sessions) s.got.length = 0
    const reach = index.reach(topic)
    const delivered = index.deliver(new Message(topic, 1, 'e', 0, 'null'))
    t.equal(reach, delivered, `round ${round}: reach(${topic}) counts what deliver reaches`)
    let expectedCount = 0
    for (const s of sessions) {
      const keys = [...s.session.keys].filter((k) => matches(k, topic))
      if (keys.length > 0) expectedCount++
      if (s.got.length !== (keys.length > 0 ? 1 : 0)) {
        t.fail(`seed ${seed} round ${round}: ${topic} reached a session ${s.got.length} times, keys ${[...s.session.keys]}`)
        return
      }
      const via = s.got[0]?.[1]
      if (keys.length > 0 && !(via === undefined ? keys.includes(topic) : keys.includes(via))) {
        t.fail(`seed ${seed} round ${round}: ${topic} via ${via}, keys ${keys}`)
        return
      }
    }
    t.equal(delivered, expectedCount, `round ${round}: ${topic} reached ${delivered}`)
  }
  // Everything removed: the trie prunes back to nothing.
  for (const { session } of sessions) for (const key of [...session.keys]) index.remove(session, key)
  t.equal(index.topicNames.size + index.patternNames.size, 0)
  t.equal(index.count('a.*'), 0)
  t.equal(index.count('a'), 0)
})

t.test('pruning keeps the branches still in use', async (t) => {
  const index = new SubscriptionIndex()
  const { session, got } = recorder()
  index.add(session, 'a.b.*')
  index.add(session, 'a.*')
  index.remove(session, 'a.b.*')
  index.deliver(new Message('a.b', 1, 'e', 0, '1'))
  index.add(session, 'a.b.>')
  index.remove(session, 'a.*')
  index.deliver(new Message('a.b.c', 1, 'e', 0, '1'))
  index.remove(session, 'a.b.>')
  index.deliver(new Message('a.b.c', 1, 'e', 0, '1'))
  t.same(got, [['a.b', 'a.*'], ['a.b.c', 'a.b.>']])
  t.equal(index.remove(session, 'a.b.>'), false, 'removing twice is a no-op')
})

t.test('reset reaches the sessions of exactly that key, and skips subscribers that cannot be told', async (t) => {
  const index = new SubscriptionIndex()
  const told: Array<[string, unknown]> = []
  const telling = indexed({ deliver () {}, reset (key, position) { told.push([key, position]) } })
  const silent = recorder().session
  index.add(telling, 'a')
  index.add(silent, 'a')
  index.add(telling, 'a.*')
  index.reset('a', { seq: 3, epoch: 'e' })
  index.reset('a.*', undefined)
  index.reset('nobody', { seq: 1, epoch: 'e' })
  t.same(told, [['a', { seq: 3, epoch: 'e' }], ['a.*', undefined]])
})

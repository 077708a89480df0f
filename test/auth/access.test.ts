import t from 'tap'
import { assertMayPublish, assertMaySubscribe, expiryTimer } from '../../src/auth/access.js'
import type { Identity } from '../../src/auth/authenticator.js'
import { MAX_INT32 } from '../../src/pubsub/options.js'

const identity = (expiresAt: number | undefined): Identity => ({ sub: 'u', subscribe: ['news.>'], publish: ['chat.*'], expiresAt })

t.test('one FORBIDDEN refusal, worded by what was asked, the name clipped', async (t) => {
  const who = identity(undefined)
  t.doesNotThrow(() => { assertMaySubscribe(who, 'news.sports') })
  t.doesNotThrow(() => { assertMayPublish(who, 'chat.room') })
  t.doesNotThrow(() => { assertMaySubscribe(undefined, 'anything') }, 'auth off')
  t.doesNotThrow(() => { assertMayPublish(undefined, 'anything') }, 'auth off')
  t.throws(() => { assertMaySubscribe(who, 'chat.room') }, { code: 'PUBSUB_ERR_FORBIDDEN', statusCode: 403, message: 'not allowed to subscribe to chat.room' })
  t.throws(() => { assertMaySubscribe(who, 'chat.room', 'read') }, { message: 'not allowed to read chat.room' })
  t.throws(() => { assertMayPublish(who, 'news.sports') }, { code: 'PUBSUB_ERR_FORBIDDEN', message: 'not allowed to publish to news.sports' })
  const long = 'x'.repeat(1000)
  t.throws(() => { assertMayPublish(who, long) }, { message: `not allowed to publish to ${'x'.repeat(300)}` }, 'a valid topic (256 bytes at most) is named whole; longer is cut')
})

t.test('expiryTimer: when the token expires, or never', async (t) => {
  t.equal(expiryTimer(undefined, () => {}), undefined, 'auth off')
  t.equal(expiryTimer(identity(undefined), () => {}), undefined, 'no exp')
  t.equal(expiryTimer(identity(Date.now() + MAX_INT32 + 1000), () => {}), undefined, 'past a timer\'s range')
  const expired = identity(Date.now() - 1000)
  const got = await new Promise<Identity>((resolve) => { expiryTimer(expired, resolve) })
  t.equal(got, expired, 'an expired token: at once, with the identity')
  const timer = expiryTimer(identity(Date.now() + 60_000), () => { t.fail('cleared') })
  t.ok(timer !== undefined)
  clearTimeout(timer)
})

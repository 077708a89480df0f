import t from 'tap'
import { FloodGuard, QUIET_MS } from '../../src/transport/flood-guard.js'

function guard (sustain: number): { guard: FloodGuard, clock: { now: number } } {
  const clock = { now: 0 }
  return { guard: new FloodGuard({ rate: 10, burst: 2, sustain }, () => clock.now), clock }
}

t.test('the burst passes, then frames over the rate are refused', async (t) => {
  const { guard: g, clock } = guard(5000)
  t.ok(g.take())
  t.ok(g.take())
  t.notOk(g.take(), 'the burst is spent')
  t.notOk(g.flooding, 'a refusal is not a flood')
  clock.now += 100
  t.ok(g.take(), 'a token back after 1/rate s')
})

t.test('refusals on end for `sustain` ms make a flood, for good', async (t) => {
  const clock = { now: 0 }
  const g = new FloodGuard({ rate: 1, burst: 2, sustain: 300 }, () => clock.now)
  g.take()
  g.take()
  for (; clock.now < 300; clock.now += 10) {
    t.notOk(g.take(), `refused at ${clock.now} ms`)
    t.notOk(g.flooding)
  }
  t.notOk(g.take(), 'refused at 300 ms')
  t.ok(g.flooding, 'refused for 300 ms on end: flooding')
  clock.now += 10_000
  t.ok(g.take(), 'the bucket refills')
  t.ok(g.flooding, 'but a flood is not forgiven')
})

t.test('a second without refusals ends the run: bursts apart are not a flood', async (t) => {
  const { guard: g, clock } = guard(1500)
  const burst = (): void => {
    // 5 frames at once: 2 pass, 3 are refused.
    for (let i = 0; i < 5; i++) g.take()
  }
  burst()
  clock.now += 900
  burst()
  t.notOk(g.flooding, '900 ms into a run')
  clock.now += QUIET_MS + 1
  burst()
  clock.now += 900
  burst()
  t.notOk(g.flooding, 'the quiet second started a new run: 900 ms into it, not 2,700')
  clock.now += 700
  burst()
  t.ok(g.flooding, '1,600 ms of refusals with no quiet second: a flood')
})

t.test('exactly QUIET_MS between refusals still continues the run', async (t) => {
  const { guard: g, clock } = guard(QUIET_MS)
  for (let i = 0; i < 3; i++) g.take()
  clock.now += QUIET_MS
  // The bucket refilled: spend it, then get refused.
  for (let i = 0; i < 3; i++) g.take()
  t.ok(g.flooding, 'a gap of exactly QUIET_MS does not end the run')
})

t.test('the default clock is performance.now', async (t) => {
  const g = new FloodGuard({ rate: 1, burst: 1, sustain: 60_000 })
  t.ok(g.take())
  t.notOk(g.take())
  t.notOk(g.flooding)
})

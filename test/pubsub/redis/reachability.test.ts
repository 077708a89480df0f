import t from 'tap'
import { Reachability } from '../../../src/pubsub/redis/reachability.js'
import { eventually } from '../../helper.js'

t.test('Redis away: one line, then a summary per interval with the attempts, then one line when back', async (t) => {
  const lines: Array<[string, Record<string, unknown>, string]> = []
  const log = {
    info (obj: object, msg: string) { lines.push(['info', obj as Record<string, unknown>, msg]) },
    warn (obj: object, msg: string) { lines.push(['warn', obj as Record<string, unknown>, msg]) }
  }
  const reachability = new Reachability(log, 50)
  t.teardown(() => { reachability.stop() })
  reachability.recovered()
  t.same(lines, [], 'up while up is not news')
  reachability.failed('connect ECONNREFUSED 127.0.0.1:1')
  for (let i = 0; i < 30; i++) reachability.failed('connect ECONNREFUSED 127.0.0.1:1')
  t.equal(reachability.down, true)
  t.match(lines, [['warn', { reason: 'connect ECONNREFUSED 127.0.0.1:1' }, /^Redis unreachable/]])
  await eventually(() => lines.length === 2)
  t.match(lines[1], ['warn', { attempts: 30, downMs: Number }, 'Redis still unreachable, 30 failed attempts in the last 0.05 s'])
  reachability.recovered()
  t.equal(reachability.down, false)
  t.match(lines[2], ['info', { downMs: Number }, 'Redis reachable again'])
  t.equal(lines.length, 3)
})

t.test('without a logger it only keeps the state', async (t) => {
  const reachability = new Reachability(undefined, 10)
  t.teardown(() => { reachability.stop() })
  reachability.failed('x')
  t.equal(reachability.down, true)
  reachability.recovered()
  t.equal(reachability.down, false)
})

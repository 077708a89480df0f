import t from 'tap'
import { Burst } from '../../../src/pubsub/redis/burst.js'
import { eventually } from '../../helper.js'

t.test('a burst runs the action at its first call and once after it', async (t) => {
  let runs = 0
  const burst = new Burst(() => { runs++ }, 30)
  t.teardown(() => { burst.stop() })
  burst.call()
  t.equal(runs, 1, 'at once')
  for (let i = 0; i < 50; i++) burst.call()
  t.equal(runs, 1, 'not again while the calls keep coming')
  await eventually(() => burst.settled)
  t.equal(runs, 2, 'once more when they stopped')
  burst.call()
  t.equal(runs, 3, 'a new burst runs at once again')
})

t.test('a lone call runs once; stop drops what was owed', async (t) => {
  let runs = 0
  const burst = new Burst(() => { runs++ }, 30)
  burst.call()
  await eventually(() => burst.settled)
  t.equal(runs, 1, 'no second run for a burst of one')
  burst.call()
  burst.call()
  burst.stop()
  t.ok(burst.settled)
  t.equal(runs, 2, 'the owed run went with stop')
})

import t from 'tap'
import { RequestQueue, type Reply } from '../../src/transport/request-queue.js'

/** A task whose work is logged when it starts, and that finishes when `finish()` is called. */
function gated (log: string[], name: string): { task: () => Promise<Reply>, finish: () => void } {
  let finish = (): void => {}
  const done = new Promise<void>((resolve) => { finish = resolve })
  return {
    task: async () => {
      log.push(`start ${name}`)
      await done
      return () => { log.push(`reply ${name}`) }
    },
    finish
  }
}

/** Resolves once every reply queued so far has run. */
async function settled (queue: RequestQueue): Promise<void> {
  await new Promise<void>((resolve) => { queue.after(resolve) })
}

t.test('non-barriers with nothing ahead start at once; their replies keep request order', async (t) => {
  const queue = new RequestQueue()
  const log: string[] = []
  const a = gated(log, 'a')
  const b = gated(log, 'b')
  queue.run(a.task, { barrier: false })
  queue.run(b.task, { barrier: false })
  t.same(log, ['start a', 'start b'], 'both started: pipelined')
  b.finish()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(log, ['start a', 'start b'], 'b done first, but its reply waits for a\'s')
  a.finish()
  await settled(queue)
  t.same(log, ['start a', 'start b', 'reply a', 'reply b'])
})

t.test('a barrier waits for everything ahead, and everything after waits for it', async (t) => {
  const queue = new RequestQueue()
  const log: string[] = []
  const publish = gated(log, 'publish')
  const subscribe = gated(log, 'subscribe')
  const after = gated(log, 'after')
  queue.run(publish.task, { barrier: false })
  queue.run(subscribe.task, { barrier: true })
  queue.run(after.task, { barrier: false })
  t.same(log, ['start publish'], 'the barrier and the publish behind it wait')
  publish.finish()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(log, ['start publish', 'reply publish', 'start subscribe'], 'the barrier starts once the publish replied')
  subscribe.finish()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(log.slice(3), ['reply subscribe', 'start after'], 'the publish behind it starts only then')
  after.finish()
  await settled(queue)
  t.same(log.slice(5), ['reply after'])
})

t.test('a non-barrier queued behind a waiting one does not overtake it', async (t) => {
  const queue = new RequestQueue()
  const log: string[] = []
  const barrier = gated(log, 'barrier')
  const first = gated(log, 'first')
  const second = gated(log, 'second')
  queue.run(barrier.task, { barrier: true })
  queue.run(first.task, { barrier: false })
  barrier.finish()
  // `first` waits (queued, not started) when `second` arrives: `second` queues behind it.
  queue.run(second.task, { barrier: false })
  first.finish()
  second.finish()
  await settled(queue)
  t.same(log, ['start barrier', 'reply barrier', 'start first', 'reply first', 'start second', 'reply second'])
})

t.test('a task that replied itself resolves with no reply; after() runs behind everything queued', async (t) => {
  const queue = new RequestQueue()
  const log: string[] = []
  queue.run(async () => { log.push('replied itself'); return undefined }, { barrier: true })
  queue.run(async () => { log.push('pipelined'); return undefined }, { barrier: false })
  queue.after(() => { log.push('refusal') })
  await settled(queue)
  t.same(log, ['replied itself', 'pipelined', 'refusal'])
})

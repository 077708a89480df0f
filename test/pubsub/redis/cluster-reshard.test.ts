// Slots moved between primaries (`redis-cli --cluster reshard`) while two
// nodes keep publishing and subscribing: live delivery goes on, every
// acknowledged message reaches exact subscribers once and in order, moved
// topics keep their epochs, and a client recovers across the move from
// history that moved with its slot (docs/scaling.md, "Redis Cluster").
import t from 'tap'
import { nanoid } from 'nanoid'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { GROUP_TAGS, groupOf, slotOf } from '../../../src/pubsub/redis/slots.js'
import { eventually } from '../../helper.js'
import { redisMissing } from '../../redis/redis-server.js'
import { clusterNodes, RedisCluster, settledView, type ClusterNode } from '../../redis/redis-cluster.js'
import { twoNodes } from './two-nodes.js'
import { deliveredIds, publishAll, recordingSession, silentGapsExact, silentGapsPattern, type Acked, type Event } from './flow.js'

/** Slots redis-cli moves: the source's lowest ones (its reshard table takes them in order). */
const MOVED_SLOTS = 1500

const slotOfTopic = (topic: string): number => slotOf(GROUP_TAGS[groupOf(topic)] as string)
const holds = (node: ClusterNode, slot: number): boolean => node.slots.some(([from, to]) => slot >= from && slot <= to)

const missing = redisMissing()
t.test('slots moved while messages flow: delivery goes on, nothing lost, epochs kept, recovery across the move', { skip: missing }, async (t) => {
  const cluster = await RedisCluster.start(t)
  const prefix = `${nanoid(6)}:`
  const primaries = (await settledView(cluster.ports[0] as number)).filter((node) => node.primary && node.slots.length > 0)
  const [source, target] = primaries as [ClusterNode, ClusterNode]
  const lowest = Math.min(...source.slots.map(([from]) => from))
  const moving = (topic: string): boolean => holds(source, slotOfTopic(topic)) && slotOfTopic(topic) < lowest + MOVED_SLOTS
  /** The first `count` names `make(i)` that `wanted` accepts, each of another slot group. */
  const pick = (count: number, make: (i: number) => string, wanted: (topic: string) => boolean): string[] => {
    const found: string[] = []
    for (let i = 0; found.length < count; i++) {
      const topic = make(i)
      if (wanted(topic) && !found.some((other) => groupOf(other) === groupOf(topic))) found.push(topic)
    }
    return found
  }
  const movingExact = pick(3, (i) => `m${i}`, moving)
  const stayingExact = [...pick(1, (i) => `s${i}`, (topic) => holds(source, slotOfTopic(topic)) && !moving(topic)), ...pick(1, (i) => `o${i}`, (topic) => !holds(source, slotOfTopic(topic)))]
  const exact = [...movingExact, ...stayingExact]
  const patterned = [...pick(2, (i) => `q.m${i}`, moving), ...pick(1, (i) => `q.s${i}`, (topic) => !moving(topic))]
  const topics = [...exact, ...patterned]

  // History long enough to hold every message of the test: recovery across the move reads it.
  const { publishing, subscribing } = await twoNodes(t, cluster.nodes, prefix, { historySize: 10_000 })
  const exactEvents: Event[] = []
  const patternEvents: Event[] = []
  const exactSession = recordingSession(subscribing, exactEvents)
  for (const topic of exact) await exactSession.subscribe(topic)
  await recordingSession(subscribing, patternEvents).subscribe('q.*')
  const eventsOf = (topic: string): Event[] => exact.includes(topic) ? exactEvents : patternEvents

  const acked: Acked = new Map()
  const refused: Parameters<typeof publishAll>[3] = []
  const stop = publishAll(publishing, topics, acked, refused)
  await eventually(() => topics.every((topic) => deliveredIds(eventsOf(topic), topic).length >= 3))
  const before = new Map(movingExact.map((topic) => [topic, (acked.get(topic) ?? []).at(-1) as { seq: number, epoch: string }]))
  const movedAt = Date.now()
  await promisify(execFile)('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${source.port}`, '--cluster-from', source.id, '--cluster-to', target.id,
    '--cluster-slots', String(MOVED_SLOTS), '--cluster-yes'], { timeout: 60_000 })
  const doneAt = Date.now()
  const after = await clusterNodes(target.port)
  const targetNow = after.find((node) => node.id === target.id) as ClusterNode
  t.ok(movingExact.every((topic) => holds(targetNow, slotOfTopic(topic))), 'the moving topics are on the target primary now')
  const publishedDuring = movingExact.map((topic) => (acked.get(topic) ?? []).filter(({ at }) => at > movedAt && at < doneAt).length)
  t.ok(publishedDuring.every((n) => n > 0), `publishes were acknowledged during the move (${publishedDuring.join(', ')})`)
  const sinceDone = (topic: string): number => (acked.get(topic) ?? []).filter(({ at }) => at > doneAt).length
  await eventually(() => topics.every((topic) => sinceDone(topic) >= 10), 15_000)
  await stop()

  const lacking = (topic: string): string[] => {
    const got = new Set(deliveredIds(eventsOf(topic), topic))
    return (acked.get(topic) ?? []).map(({ seq, epoch }) => `${seq}@${epoch}`).filter((id) => !got.has(id))
  }
  await eventually(() => exact.every((topic) => lacking(topic).length === 0), 10_000).catch(() => {})
  for (const topic of exact) {
    t.same(lacking(topic), [], `${topic}: every acknowledged message delivered`)
    t.same(silentGapsExact(exactEvents, topic), [], `${topic}: in seq order, no gap`)
    t.equal(new Set(deliveredIds(exactEvents, topic)).size, deliveredIds(exactEvents, topic).length, `${topic}: none twice`)
    t.equal(new Set((acked.get(topic) ?? []).map(({ epoch }) => epoch)).size, 1, `${topic}: one epoch throughout`)
  }
  t.same(exactEvents.filter((e) => e.kind === 'reset'), [], 'exact subscribers were caught up, never told of a loss')
  for (const topic of patterned) {
    t.same(silentGapsPattern(patternEvents, topic), [], `${topic} through q.*: in seq order, every gap told`)
    const got = new Set(deliveredIds(patternEvents, topic))
    t.same((acked.get(topic) ?? []).filter(({ at }) => at > doneAt).map(({ seq, epoch }) => `${seq}@${epoch}`).filter((id) => !got.has(id)), [], `${topic} through q.*: everything since the move delivered`)
  }

  // A client that saw a moved topic up to before the move resumes on the target: history moved with the slot.
  for (const [topic, position] of before) {
    const resumed = await subscribing.connect({ deliver () {} }).subscribe(topic, { since: position.seq, epoch: position.epoch })
    const last = (acked.get(topic) ?? []).at(-1)?.seq as number
    t.equal(resumed.recovered, true, `${topic}: recovered from seq ${position.seq}`)
    t.same(resumed.replay?.map((message) => message.seq), Array.from({ length: last - position.seq }, (_, i) => position.seq + 1 + i), `${topic}: every message after it, in order`)
  }
  t.comment(`move of ${MOVED_SLOTS} slots took ${doneAt - movedAt} ms; acknowledged during it: ${publishedDuring.join(', ')}; pattern resets: ${patternEvents.filter((e) => e.kind === 'reset').length}; refused: ${JSON.stringify(refused.slice(0, 5))} (${refused.length})`)
})

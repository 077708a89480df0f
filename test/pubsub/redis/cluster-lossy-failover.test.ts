// A shard's replica promoted without the last messages its primary
// acknowledged: it would hand their seqs out again, with other data. The
// engine must start a new epoch there, so that a live subscriber is told (a
// reset) and a resume from the last seq seen is not recovered, rather than
// either silently missing the new messages (docs/scaling.md, "Redis Cluster").
import t from 'tap'
import { nanoid } from 'nanoid'
import type { Message } from '../../../src/pubsub/message.js'
import type { Position } from '../../../src/pubsub/session.js'
import { GROUP_TAGS, groupOf, slotOf } from '../../../src/pubsub/redis/slots.js'
import { eventually } from '../../helper.js'
import { redisMissing } from '../../redis/redis-server.js'
import { twoNodes } from './two-nodes.js'
import { cli, RedisCluster, replOffset, settledView, type ClusterNode } from '../../redis/redis-cluster.js'

const tagOf = (topic: string): string => GROUP_TAGS[groupOf(topic)] as string

const missing = redisMissing()
t.test('a replica promoted without acknowledged messages: the topic starts a new epoch, subscribers are told', { skip: missing }, async (t) => {
  const cluster = await RedisCluster.start(t)
  const prefix = `${nanoid(6)}:`
  const nodes = await settledView(cluster.ports[0] as number)
  const victim = nodes.find((node) => node.primary && node.slots.length > 0) as ClusterNode
  const replica = nodes.find((node) => node.primaryId === victim.id) as ClusterNode
  const onVictim = (topic: string): boolean => victim.slots.some(([from, to]) => slotOf(tagOf(topic)) >= from && slotOf(tagOf(topic)) <= to)
  let topic = ''
  for (let i = 0; topic === '' || !onVictim(topic); i++) topic = `lossy${i}`
  // A topic on a shard that keeps its primary: its sequence goes on.
  let other = ''
  for (let i = 0; other === '' || onVictim(other); i++) other = `steady${i}`

  const { publishing, subscribing } = await twoNodes(t, cluster.nodes, prefix)
  const got: Message[] = []
  const resets: Array<Position | undefined> = []
  const session = subscribing.connect({
    deliver (message) { if (message.topic === topic) got.push(message) },
    reset (key, position) { if (key === topic) resets.push(position) }
  })
  await session.subscribe(topic)

  // Three messages the replica has, then three that only the primary acknowledged.
  for (let i = 1; i <= 3; i++) await publishing.publish(topic, `kept ${i}`)
  const steady = await publishing.publish(other, 'before')
  await eventually(async () => await replOffset(victim.port) === await replOffset(replica.port))
  // The replica frozen, its primary drops the link: the replica cannot come back for the next writes.
  cluster.pause(replica.port)
  await cli(victim.port, 'CLIENT', 'KILL', 'TYPE', 'replica')
  await eventually(async () => (await cli(victim.port, 'INFO', 'replication')).includes('connected_slaves:0'))
  const lost: Array<{ seq: number, epoch: string }> = []
  for (let i = 4; i <= 6; i++) lost.push(await publishing.publish(topic, `lost ${i}`))
  t.same(lost.map(({ seq }) => seq), [4, 5, 6], 'acknowledged by the primary alone')
  await eventually(() => got.length === 6)
  const seen = got.at(-1) as Message
  const acknowledged = await replOffset(victim.port)

  // The primary dies; the replica, running again, is made to take over at once.
  await cluster.kill(victim.port)
  cluster.resume(replica.port)
  t.ok(await replOffset(replica.port) < acknowledged, 'the replica lacks the acknowledged messages')
  await eventually(async () => (await cli(replica.port, 'ROLE')).startsWith('master') || (await cli(replica.port, 'CLUSTER', 'FAILOVER', 'TAKEOVER')).startsWith('OK'))
  await eventually(async () => {
    if (!(await cli(replica.port, 'ROLE')).startsWith('master')) return false
    for (const port of cluster.ports) if (port !== victim.port && !(await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false
    return true
  }, 15_000)

  // Five new messages: past the seqs the subscriber saw, under the old epoch they would look like a continuation.
  const after: Array<{ seq: number, epoch: string }> = []
  for (let i = 1; i <= 5; i++) {
    await eventually(async () => await publishing.publish(topic, `after ${i}`).then((result) => { after.push(result); return true }, () => false), 15_000)
  }
  t.not(after[0]?.epoch, seen.epoch, 'the first publish after the failover is in a new epoch')
  t.same(after.map(({ seq }) => seq), [1, 2, 3, 4, 5], 'its seqs start over')

  const next = await publishing.publish(other, 'after')
  t.same([next.seq, next.epoch], [steady.seq + 1, steady.epoch], 'a topic of another shard keeps its epoch')

  // The live subscriber: told, then given every new message.
  const news = (): unknown[] => got.slice(6).map((message) => message.data)
  await eventually(() => news().length >= 5, 10_000).catch(() => {})
  t.ok(resets.length > 0, 'the live subscriber is told')
  t.same(news(), ['after 1', 'after 2', 'after 3', 'after 4', 'after 5'], 'and gets every new message, none taken for one it had')

  // A client resuming from the last message it saw cannot be recovered.
  const resumed = await subscribing.connect({ deliver () {}, reset () {} }).subscribe(topic, { since: seen.seq, epoch: seen.epoch })
  t.equal(resumed.recovered, false, 'a resume from the last seq seen is not recovered')
})

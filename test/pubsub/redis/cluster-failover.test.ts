// A primary of the Redis Cluster killed under two nodes that keep
// publishing and subscribing: once its replica is promoted, every topic's
// messages reach the subscriber again, in seq order, any gap caught up from
// history or told, never silent (docs/scaling.md, "Redis Cluster").
import t from 'tap'
import { nanoid } from 'nanoid'
import { GROUP_TAGS, groupOf, slotOf } from '../../../src/pubsub/redis/slots.js'
import { eventually } from '../../helper.js'
import { redisMissing } from '../../redis/redis-server.js'
import { twoNodes } from './two-nodes.js'
import { deliveredIds, publishAll, recordingSession, silentGapsExact, silentGapsPattern, type Acked, type Event } from './flow.js'
import { cli, clusterNodes, RedisCluster, replOffset, settledView, type ClusterNode } from '../../redis/redis-cluster.js'

const slotOfTopic = (topic: string): number => slotOf(GROUP_TAGS[groupOf(topic)] as string)

const missing = redisMissing()
t.test('a primary killed: its replica promoted, every topic reaches the subscriber again, in order, no silent gap', { skip: missing }, async (t) => {
  const cluster = await RedisCluster.start(t)
  const prefix = `${nanoid(6)}:`
  const nodes = await settledView(cluster.ports[0] as number)
  const primaries = nodes.filter((node) => node.primary && node.slots.length > 0)
  const shardOf = (topic: string): ClusterNode => primaries.find((node) => node.slots.some(([from, to]) => slotOfTopic(topic) >= from && slotOfTopic(topic) <= to)) as ClusterNode
  /** The first `count` topics `make(i)` on each of the three shards. */
  const onEveryShard = (count: number, make: (i: number) => string): string[] => {
    const found: string[] = []
    for (let i = 0; i < 1000 && primaries.some((primary) => found.filter((topic) => shardOf(topic) === primary).length < count); i++) {
      const topic = make(i)
      if (found.filter((other) => shardOf(other) === shardOf(topic)).length < count) found.push(topic)
    }
    return found
  }
  const exact = onEveryShard(2, (i) => `e${i}`)
  const patterned = onEveryShard(1, (i) => `p.x${i}`)
  const topics = [...exact, ...patterned]
  t.equal(new Set(topics.map(shardOf)).size, 3, 'the topics span the three shards')

  const { publishing, subscribing } = await twoNodes(t, cluster.nodes, prefix)
  const exactEvents: Event[] = []
  const patternEvents: Event[] = []
  const exactSession = recordingSession(subscribing, exactEvents)
  for (const topic of exact) await exactSession.subscribe(topic)
  await recordingSession(subscribing, patternEvents).subscribe('p.*')

  const acked: Acked = new Map()
  const delivered = (events: Event[], topic: string): number[] => events.flatMap((e) => e.kind === 'message' && e.topic === topic ? [e.seq] : [])
  const eventsOf = (topic: string): Event[] => exact.includes(topic) ? exactEvents : patternEvents

  // Before the kill: messages on every shard, and the victim's replica has all of them
  // (a promoted replica that lacks acknowledged writes is another failure, not this one).
  let stop = publishAll(publishing, topics, acked)
  await eventually(() => topics.every((topic) => delivered(eventsOf(topic), topic).length >= 3))
  await stop()
  const victim = shardOf(exact[0] as string)
  const replica = nodes.find((node) => node.primaryId === victim.id) as ClusterNode
  await eventually(async () => await replOffset(victim.port) === await replOffset(replica.port))

  stop = publishAll(publishing, topics, acked)
  const killedAt = Date.now()
  await cluster.kill(victim.port)
  // The replica takes over: it is a primary, and the cluster is whole again for every survivor.
  await eventually(async () => {
    if (!(await cli(replica.port, 'ROLE')).startsWith('master')) return false
    for (const port of cluster.ports) if (port !== victim.port && !(await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false
    return true
  }, 15_000)
  const promotedAt = Date.now()
  // `seq@epoch`: a failover restarts each sequence of the promoted shard (docs/scaling.md), so seqs alone repeat.
  const afterPromotion = (topic: string): string[] => (acked.get(topic) ?? []).filter(({ at }) => at > promotedAt).map(({ seq, epoch }) => `${seq}@${epoch}`)
  // Publishes resume on every shard; the loop stops once each topic has had ten since the promotion.
  await eventually(() => topics.every((topic) => afterPromotion(topic).length >= 10), 15_000)
  await stop()

  const undelivered = (): Array<[string, string[]]> => topics.flatMap((topic): Array<[string, string[]]> => {
    const got = new Set(deliveredIds(eventsOf(topic), topic))
    const lacking = afterPromotion(topic).filter((id) => !got.has(id))
    return lacking.length === 0 ? [] : [[topic, lacking]]
  })
  await eventually(() => undelivered().length === 0, 10_000).catch(() => {})
  t.same(undelivered(), [], 'every message acknowledged after the promotion reached the subscriber')

  for (const topic of exact) {
    t.same(silentGapsExact(exactEvents, topic), [], `${topic}: in seq order, every gap caught up or told`)
    t.equal(delivered(exactEvents, topic).at(-1), (acked.get(topic) ?? []).at(-1)?.seq, `${topic}: up to its last publish`)
  }
  for (const topic of patterned) t.same(silentGapsPattern(patternEvents, topic), [], `${topic}: in seq order, every gap told`)
  // Every topic of the promoted shard starts a new epoch (told above): its new primary may lack the last writes.
  const restarted = topics.filter((topic) => new Set(eventsOf(topic).flatMap((e) => e.kind === 'message' && e.topic === topic ? [e.epoch] : [])).size > 1)
  if (restarted.length > 0) t.comment(`sequences restarted by the failover: ${restarted.join(' ')}; ${JSON.stringify(await clusterNodes(replica.port))}`)

  // How long the victim's shard was away, for the report.
  const firstAfter = (topic: string): number | undefined => {
    const first = afterPromotion(topic)[0]
    return eventsOf(topic).find((e) => e.kind === 'message' && e.topic === topic && `${e.seq}@${e.epoch}` === first)?.at
  }
  const resumed = Math.max(...topics.filter((topic) => shardOf(topic) === victim).map((topic) => firstAfter(topic) ?? Infinity))
  // The pattern is told when one of its fan-in channels shows a loss or a restarted sequence (above:
  // never silent), and never twice with nothing delivered between: not at each of ioredis's retry
  // rounds (29 times in a run that did so).
  const backToBack = patternEvents.filter((e, i) => e.kind === 'reset' && patternEvents[i - 1]?.kind === 'reset').length
  t.equal(backToBack, 0, 'no reset of the pattern right after another')
  t.comment(`promoted ${promotedAt - killedAt} ms after the kill; the shard's topics delivered again ${resumed - killedAt} ms after it (${resumed - promotedAt} ms after the promotion); resets: ${exactEvents.filter((e) => e.kind === 'reset').length} exact, ${patternEvents.filter((e) => e.kind === 'reset').length} of the pattern`)
})

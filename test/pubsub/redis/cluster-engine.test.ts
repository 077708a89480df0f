// The Redis Cluster engine passes the same conformance suite as the other
// engines, against a six-node cluster of its own.
import t, { type Test } from 'tap'
import { nanoid } from 'nanoid'
import { RedisClusterEngine } from '../../../src/pubsub/redis/cluster-engine.js'
import { engineConformance } from '../../../src/pubsub/conformance.js'
import { Broker } from '../../../src/pubsub/broker.js'
import type { Message } from '../../../src/pubsub/message.js'
import type { Position } from '../../../src/pubsub/session.js'
import { GROUP_TAGS, groupOf, partitionOf, slotOf } from '../../../src/pubsub/redis/slots.js'
import { eventually, WAIT_MS } from '../../helper.js'
import { freePort, redisMissing } from '../../redis/redis-server.js'
import { cli, RedisCluster, settledView, type ClusterNode } from '../../redis/redis-cluster.js'

/** A broker on a fresh engine of the cluster, and a session that records what it is given and told. */
async function follower (t: Test, nodes: string[], prefix: string): Promise<{ engine: RedisClusterEngine, broker: Broker, got: Array<[string, number, unknown]>, resets: Array<[string, Position | undefined]>, session: ReturnType<Broker['connect']> }> {
  const engine = new RedisClusterEngine({ nodes, keyPrefix: prefix, heartbeat: 100, timeout: 300 })
  const broker = new Broker({}, { engine })
  t.teardown(() => broker.close())
  await engine.whenConnected()
  const got: Array<[string, number, unknown]> = []
  const resets: Array<[string, Position | undefined]> = []
  const session = broker.connect({
    deliver (message: Message) { got.push([message.topic, message.seq, message.data]) },
    reset (key: string, position: Position | undefined) { resets.push([key, position]) }
  })
  return { engine, broker, got, resets, session }
}

const missing = redisMissing()
if (missing !== false) {
  t.comment(`skipped: ${missing}`)
} else {
  const cluster = await RedisCluster.start(t)
  engineConformance({
    builder: async (settings) => {
      // A prefix of its own: tests share the cluster, not their topics.
      const engine = new RedisClusterEngine({ nodes: cluster.nodes.slice(0, 2), keyPrefix: `${nanoid(6)}:`, heartbeat: 100, ...settings })
      await engine.whenConnected()
      return engine
    },
    test: t,
    wait: WAIT_MS
  })

  /** Runs a command on whichever node holds `key` (redis-cli -c follows MOVED). */
  const onKey = async (...args: string[]): Promise<string> => await cli(cluster.ports[0] as number, '-c', ...args)
  const metaKey = (prefix: string, topic: string): string => `${prefix}{${GROUP_TAGS[groupOf(topic)] as string}}:meta:${topic}`

  t.test('a heartbeat Redis does not answer in time fails quietly: the engine carries on', async (t) => {
    const engine = new RedisClusterEngine({ nodes: cluster.nodes, keyPrefix: `${nanoid(6)}:`, heartbeat: 60_000, timeout: 200 })
    const broker = new Broker({}, { engine })
    t.teardown(() => broker.close())
    await engine.whenConnected()
    // Writes wait on every node for longer than the engine's timeout: the presence refresh times out.
    await Promise.all(cluster.ports.map(async (port) => await cli(port, 'CLIENT', 'PAUSE', '1000', 'WRITE')))
    await engine.whenConnected()
    t.pass('the timed-out heartbeat did not reject')
    await eventually(async () => await broker.publish('after.pause', 1).then(() => true, () => false))
  })

  t.test('shard connections dropped: ioredis resubscribes, each topic is caught up from history; a pattern that lost nothing is not told', async (t) => {
    const prefix = `${nanoid(6)}:`
    const publisher = new RedisClusterEngine({ nodes: cluster.nodes, keyPrefix: prefix })
    const publishing = new Broker({}, { engine: publisher })
    t.teardown(() => publishing.close())
    await publisher.whenConnected()
    const { got, resets, session } = await follower(t, cluster.nodes, prefix)
    await session.subscribe('orders')
    await session.subscribe('audit.*')
    await publishing.publish('orders', 1)
    await eventually(() => got.length === 1)
    // Every Pub/Sub connection of the cluster, ours among them.
    for (const port of cluster.ports) await cli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')
    await publishing.publish('orders', 2)
    await publishing.publish('orders', 3)
    await eventually(() => got.length === 3)
    await eventually(async () => { await publishing.publish('orders', 'live'); return got.at(-1)?.[2] === 'live' })
    const seqs = got.map(([, seq]) => seq)
    t.same(seqs, [...seqs.keys()].map((i) => i + 1), 'every seq once, in order: the missed ones from history, then live')
    // `orders` travels on other fan-in channels than `audit.*` listens on: nothing of the pattern was lost.
    t.not(partitionOf('orders'), partitionOf('audit'))
    await publishing.publish('audit.x', 'after')
    await eventually(() => got.some(([topic]) => topic === 'audit.x'))
    t.same(resets, [], 'the pattern is not told')
  })

  t.test('a fan-in channel whose count jumps or goes back, or a restarted sequence: its patterns are told before the message, once per loss', async (t) => {
    const prefix = `${nanoid(6)}:`
    const { broker, got, resets, session } = await follower(t, cluster.nodes, prefix)
    await session.subscribe('audit.*')
    await session.subscribe('audit.>')
    let other = 'audit.b'
    for (let i = 0; groupOf(other) === groupOf('audit.a'); i++) other = `audit.b${i}`
    const countKey = (topic: string): string => `${prefix}{${GROUP_TAGS[groupOf(topic)] as string}}:wcount:${partitionOf('audit')}`
    const both = [['audit.*', undefined], ['audit.>', undefined]]
    /** What a third session of `audit.*` was given and told, in order. */
    const events: unknown[] = []
    const record = broker.connect({ deliver (message) { events.push(message.data) }, reset (key) { events.push(`reset ${key}`) } })
    await record.subscribe('audit.*')
    await broker.publish('audit.a', 1)
    await broker.publish(other, 2)
    await eventually(() => got.length === 2)
    t.same(resets, [], 'the first message of each channel sets where it is')

    // A message of audit.a's channel that never came here.
    await onKey('INCR', countKey('audit.a'))
    await broker.publish('audit.a', 3)
    await eventually(() => got.length === 3)
    t.same(resets.sort(), both, 'both patterns on the channel told')
    t.same(events.slice(-2), ['reset audit.*', 3], 'before the message')
    // A loss on the other channel, which delivered nothing since: the reset covers it.
    await onKey('INCR', countKey(other))
    await broker.publish(other, 4)
    await eventually(() => got.length === 4)
    t.equal(resets.length, 2, 'not told again')
    // The count goes back (the shard lost writes) on a channel that delivered since: told again.
    await onKey('DECRBY', countKey('audit.a'), '5')
    await broker.publish('audit.a', 5)
    await eventually(() => got.length === 5)
    t.equal(resets.length, 4, 'told again')
    t.same(events.slice(-2), ['reset audit.*', 5])

    // A sequence that restarts over an old one (here: the topic last written by a primary that no cluster node is).
    await broker.publish(other, 6)
    await onKey('HSET', metaKey(prefix, other), 'primary', 'f'.repeat(40))
    const restarted = await broker.publish(other, 7)
    t.equal(restarted.seq, 1, 'a new epoch')
    await eventually(() => got.length === 7)
    t.same(events.slice(-3), [6, 'reset audit.*', 7], 'told before its first message')
    t.same(got.map(([, , data]) => data), [1, 2, 3, 4, 5, 6, 7], 'every message still delivered, once')
  })

  t.test('a subscribe that timed out on a stalled shard: what the shard sends later is dropped, and a new subscribe gets each message once', async (t) => {
    const prefix = `${nanoid(6)}:`
    const { broker, got, session } = await follower(t, cluster.nodes, prefix)
    const topic = 'stalled'
    const slot = slotOf(GROUP_TAGS[groupOf(topic)] as string)
    const shard = (await settledView(cluster.ports[0] as number)).find((node) => node.primary && node.slots.some(([from, to]) => slot >= from && slot <= to)) as ClusterNode
    // Frozen for less than the cluster's node timeout: no failover, but the SSUBSCRIBE times out (300 ms).
    cluster.pause(shard.port)
    await t.rejects(session.subscribe(topic), { code: 'PUBSUB_ERR_UNAVAILABLE' })
    cluster.resume(shard.port)
    // The shard now runs the SSUBSCRIBE it had queued (ioredis keeps the channel too): this node gets
    // the channel's messages, though it no longer listens to it.
    await eventually(async () => await broker.publish(topic, 1).then(() => true, () => false))
    const ack = await session.subscribe(topic)
    await broker.publish(topic, 2)
    await broker.publish(topic, 3)
    // A message at or below the ack's seq may still come (its copy was on its way): a transport drops those.
    const after = (): unknown[] => got.filter(([, seq]) => seq > (ack.seq ?? 0)).map(([, seq, data]) => [seq, data])
    await eventually(() => after().length >= 2)
    t.same(after(), [[2, 2], [3, 3]], 'each message once, from the subscribe on')
  })

  t.test('a skipped seq is caught up from history, or told when history lacks it; a restarted sequence is told', async (t) => {
    const prefix = `${nanoid(6)}:`
    const { broker, got, resets, session } = await follower(t, cluster.nodes, prefix)
    await session.subscribe('gap')
    await broker.publish('gap', 1)
    await eventually(() => got.length === 1)
    // A seq taken by hand: the next message skips it; history has the next one (seqs in it need not be consecutive).
    await onKey('HINCRBY', metaKey(prefix, 'gap'), 'seq', '1')
    await broker.publish('gap', 3)
    await eventually(() => got.length === 2)
    t.same(resets, [], 'what history holds is delivered, once: the live copy that waited is dropped')
    // Again, with no history at all: the clients are told.
    await onKey('HINCRBY', metaKey(prefix, 'gap'), 'seq', '1')
    await onKey('DEL', metaKey(prefix, 'gap').replace(':meta:', ':history:'))
    await broker.publish('gap', 5)
    await eventually(() => got.length === 3)
    t.same(got, [['gap', 1, 1], ['gap', 3, 3], ['gap', 5, 5]])
    t.match(resets, [['gap', { seq: 4 }]], 'told where delivery goes on: after the lost seq 4')
    // The topic's meta deleted (a failover that lost it): a new epoch.
    await onKey('DEL', metaKey(prefix, 'gap'))
    const { epoch } = await broker.publish('gap', 'again')
    await eventually(() => got.length === 4)
    t.same(got[3], ['gap', 1, 'again'])
    t.match(resets.at(-1), ['gap', { seq: 0, epoch }], 'told that the sequence restarted')
  })

  t.test('resubscribed where history cannot be read: messages that waited go on, a lost sequence is told', async (t) => {
    const prefix = `${nanoid(6)}:`
    const { broker, got, resets, session } = await follower(t, cluster.nodes, prefix)
    for (const key of ['a', 'b', 'c', 'p.*']) await session.subscribe(key)
    const { epoch } = await broker.publish('a', 1)
    await broker.publish('b', 1)
    await broker.publish('c', 1)
    await eventually(() => got.length === 3)
    // a's meta of the wrong type: its catch-up fails, three times. b's meta
    // gone: a new epoch. c's seq 2 taken, its history gone: not recoverable.
    await onKey('SET', metaKey(prefix, 'a'), 'not a hash')
    await onKey('DEL', metaKey(prefix, 'b'))
    await onKey('HINCRBY', metaKey(prefix, 'c'), 'seq', '1')
    await onKey('DEL', metaKey(prefix, 'c').replace(':meta:', ':history:'))
    for (const port of cluster.ports) await cli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')
    await eventually(() => resets.length > 0)
    // While a is being caught up, its next message comes live (sent by hand: publishes to it fail).
    await onKey('SPUBLISH', metaKey(prefix, 'a').replace(':meta:', ':m:'), `a\n2\n${epoch}\n${Date.now()}\n"live"`)
    await eventually(() => got.length === 4)
    t.same(got[3], ['a', 2, 'live'], 'the message that waited behind the failed catch-up')
    t.match(resets.find(([key]) => key === 'c'), ['c', { seq: 2 }], 'what history cannot give is told')
    t.match(resets.filter(([key]) => key === 'a'), [['a', { seq: 1, epoch }]], 'told, and delivery goes on just before it')
    t.match(resets.find(([key]) => key === 'b'), ['b', { seq: 0 }], 'the restarted sequence is told')
    t.not((resets.find(([key]) => key === 'b') as [string, Position])[1].epoch, epoch)
    // Listing a topic whose meta is gone under it: seq 0, no epoch.
    await onKey('DEL', metaKey(prefix, 'a'))
    await eventually(async () => (await broker.topics()).topics.length === 3)
    t.match((await broker.topics()).topics.find((info) => info.topic === 'a'), { seq: 0, epoch: '' })
  })

  t.test("a topic last written under another primary starts a new epoch, unless primaryChange is 'continue'", async (t) => {
    const prefix = `${nanoid(6)}:`
    const { broker, got, resets, session } = await follower(t, cluster.nodes, prefix)
    await session.subscribe('moved')
    const first = await broker.publish('moved', 1)
    t.match((await onKey('HGET', metaKey(prefix, 'moved'), 'primary')).trim(), /^[0-9a-f]{40}$/, 'the script records the replication id of the primary it ran on')
    const again = await broker.publish('moved', 2)
    t.same([again.seq, again.epoch], [2, first.epoch], 'the same primary: the sequence goes on')
    // What a promoted replica's copy holds: the id of the primary before it.
    await onKey('HSET', metaKey(prefix, 'moved'), 'primary', 'f'.repeat(40))
    const after = await broker.publish('moved', 3)
    t.equal(after.seq, 1, 'the sequence starts over')
    t.not(after.epoch, first.epoch, 'in a new epoch')
    await eventually(() => got.length === 3)
    t.match(resets, [['moved', { seq: 0, epoch: after.epoch }]], 'and the subscriber is told')
    // A snapshot (a subscribe with recovery) checks as a publish does.
    await onKey('HSET', metaKey(prefix, 'moved'), 'primary', 'f'.repeat(40))
    const resumed = await broker.connect({ deliver () {}, reset () {} }).subscribe('moved', { since: 1, epoch: after.epoch })
    t.equal(resumed.recovered, false, 'a resume across the change is not recovered')

    // Two topics meeting the same unknown id at once: the primaries are asked once for both.
    await onKey('HSET', metaKey(prefix, 'moved'), 'primary', 'e'.repeat(40))
    await broker.publish('twin', 1)
    await onKey('HSET', metaKey(prefix, 'twin'), 'primary', 'e'.repeat(40))
    const twins = await Promise.all([broker.publish('moved', 4), broker.publish('twin', 2)])
    t.same(twins.map(({ seq }) => seq), [1, 1], 'both start over')

    const engine = new RedisClusterEngine({ nodes: cluster.nodes, keyPrefix: prefix, primaryChange: 'continue' })
    const continuing = new Broker({}, { engine })
    t.teardown(() => continuing.close())
    await engine.whenConnected()
    const before = await continuing.publish('kept', 1)
    await onKey('HSET', metaKey(prefix, 'kept'), 'primary', 'f'.repeat(40))
    const kept = await continuing.publish('kept', 2)
    t.same([kept.seq, kept.epoch], [2, before.epoch], "'continue': no check, the sequence goes on")
    t.throws(() => new RedisClusterEngine({ nodes: cluster.nodes, primaryChange: 'sometimes' as 'continue' }), { code: 'PUBSUB_ERR_OPTION', message: /primaryChange/ })
  })

  t.test('a topic written by another live primary (moved with its slot) keeps its epoch; where that primary cannot be asked, a new one', async (t) => {
    const prefix = `${nanoid(6)}:`
    const { broker, got, resets, session } = await follower(t, cluster.nodes, prefix)
    await session.subscribe('migrated')
    const first = await broker.publish('migrated', 1)
    const own = (await onKey('HGET', metaKey(prefix, 'migrated'), 'primary')).trim()
    /** Each primary's port and replication id. */
    const primaries: Array<[number, string]> = []
    for (const port of cluster.ports) {
      const info = await cli(port, 'INFO', 'replication')
      if (info.includes('role:master')) primaries.push([port, (/master_replid:(\w+)/.exec(info) as RegExpExecArray)[1] as string])
    }
    const [otherPort, other] = primaries.find(([, id]) => id !== own) as [number, string]
    // What MIGRATE leaves: the topic on this shard, written under the primary it came from.
    await onKey('HSET', metaKey(prefix, 'migrated'), 'primary', other)
    const kept = await broker.publish('migrated', 2)
    t.same([kept.seq, kept.epoch], [2, first.epoch], 'the sequence goes on')
    t.equal((await onKey('HGET', metaKey(prefix, 'migrated'), 'primary')).trim(), own, 'now written under the primary it is on')
    await eventually(() => got.length === 2)
    t.same(resets, [], 'nobody is told')

    // That primary refuses INFO: it cannot vouch for the topic, which starts over.
    await cli(otherPort, 'ACL', 'SETUSER', 'default', '-info')
    t.teardown(async () => { await cli(otherPort, 'ACL', 'SETUSER', 'default', '+@all') })
    await onKey('HSET', metaKey(prefix, 'migrated'), 'primary', other)
    const after = await broker.publish('migrated', 3)
    t.equal(after.seq, 1, 'a new epoch')
    t.not(after.epoch, first.epoch)
  })

  t.test('Redis answering with an error is a 503 of its own; a cluster never reached is not ready; close is idempotent', async (t) => {
    const prefix = `${nanoid(6)}:`
    const { broker, engine } = await follower(t, cluster.nodes, prefix)
    await onKey('SET', metaKey(prefix, 'typed'), 'not a hash')
    await t.rejects(broker.publish('typed', 1), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine did not complete the request' })
    t.equal(engine.historyBytes(), 0, 'Redis holds the history')
    await broker.close()
    await engine.close()
    t.equal(engine.healthy(), false)
    await t.rejects(engine.publish('x', '1'), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'engine is closed' })

    const away = new RedisClusterEngine({ nodes: [`127.0.0.1:${await freePort()}`], timeout: 100 })
    t.teardown(() => away.close())
    await t.rejects(away.whenConnected(200), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' })
    const awayBroker = new Broker({}, { engine: away })
    t.teardown(() => awayBroker.close())
    await t.rejects(awayBroker.publish('x', 1), { code: 'PUBSUB_ERR_UNAVAILABLE', message: 'the Redis engine is not connected' }, 'a command while the cluster is away fails at once, as not connected')
    await away.close()
  })
}

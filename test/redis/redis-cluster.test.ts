// fastify-pubsub nodes on one Redis Cluster (three primaries, three
// replicas), through their real WebSocket and HTTP interfaces: topics on
// every shard, exact and wildcard subscribers on both nodes.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { nanoid } from 'nanoid'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import fastifyPubsub from '../../src/index.js'
import { matches } from '../../src/protocol/topic.js'
import { GROUP_TAGS, groupOf, slotOf } from '../../src/pubsub/redis/slots.js'
import { connectWelcomed, eventually, type Frame } from '../helper.js'
import { logLine, start } from '../server/server-process.js'
import { post } from './node.js'
import { redisMissing } from './redis-server.js'
import { cli, RedisCluster } from './redis-cluster.js'

const missing = redisMissing()
// One cluster for the file: six processes take a couple of seconds to form one.
const cluster = missing === false ? await RedisCluster.start(t) : undefined

const messages = (frames: Frame[]): Frame[] => frames.filter((f) => f.type === 'message')

/** A node: an app on its own port on the cluster, configured as a user would; ready. */
async function clusterNode (t: Test, nodes: string[], prefix: string): Promise<{ url: string }> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, { engine: { type: 'redis-cluster', nodes, keyPrefix: prefix, heartbeat: 500, timeout: 1000 } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await eventually(() => app.pubsub.healthy)
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

/** Which third of the slots, so which of the three primaries, a topic lives on. */
const shardOf = (topic: string): number => Math.floor(slotOf(GROUP_TAGS[groupOf(topic)] as string) * 3 / 16384)

/** The first topic `make(i)` for i = 0, 1, … on each of the three shards. */
function onEveryShard (make: (i: number) => string): string[] {
  const found: Array<string | undefined> = [undefined, undefined, undefined]
  for (let i = 0; found.includes(undefined); i++) {
    const topic = make(i)
    found[shardOf(topic)] ??= topic
  }
  return found as string[]
}

t.test('two nodes on a cluster: exact, `*`, `>` and leading-wildcard subscribers get each message once, in order, from every shard', { skip: missing }, async (t) => {
  const { nodes, ports } = cluster as RedisCluster
  const prefix = `${nanoid(6)}:`
  // Each node knows one seed node: the rest is discovered.
  const a = await clusterNode(t, nodes.slice(0, 1), prefix)
  const b = await clusterNode(t, nodes.slice(1, 2), prefix)
  const news = onEveryShard((i) => `news.n${i}`)
  const eu = onEveryShard((i) => `t${i}.eu`)
  const topics = [...news, ...eu]
  t.equal(new Set(topics.map(shardOf)).size, 3, 'the topics span the three shards')

  const subscribers: Array<{ key: string, on: string, client: Awaited<ReturnType<typeof connectWelcomed>> }> = []
  for (const [key, on] of [[news[0], a.url], [news[1], b.url], ['news.*', a.url], ['news.*', b.url], ['news.>', b.url], ['>', a.url], ['*.eu', b.url], [eu[2], b.url]] as Array<[string, string]>) {
    const client = await connectWelcomed(t, on)
    await client.subscribe(key)
    subscribers.push({ key, on, client })
  }
  // One session on node B holds both an exact and a pattern subscription of one topic.
  const both = await connectWelcomed(t, b.url)
  await both.subscribe(news[1] as string)
  await both.subscribe('news.*')

  // Both nodes publish at once, without waiting: the shard orders each topic.
  const publishers = [await connectWelcomed(t, a.url), await connectWelcomed(t, b.url)]
  const rounds = 5
  for (let i = 1; i <= rounds; i++) {
    for (const [n, topic] of topics.entries()) (publishers[(i + n) % 2] as typeof publishers[0]).send({ action: 'publish', topic, message: { topic, i }, id: `${topic}:${i}` })
  }
  // The seq each publish was given, by its id.
  const seqOf = new Map<string, number>()
  for (const publisher of publishers) for (const ack of await publisher.take(rounds * topics.length / 2)) seqOf.set(ack.id, ack.seq)

  for (const { key, client } of subscribers) {
    const wanted = topics.filter((topic) => matches(key, topic))
    const got = messages(await client.take(wanted.length * rounds))
    for (const topic of wanted) {
      const own = got.filter((f) => f.topic === topic)
      t.same(own.map((f) => f.seq), [1, 2, 3, 4, 5], `${key}: ${topic} once each, in seq order`)
      t.same(own.map((f) => seqOf.get(`${topic}:${f.data.i as number}`)), own.map((f) => f.seq), `${key}: the data of its seq`)
    }
    t.same(messages(await client.drain()), [], `${key}: nothing else`)
  }
  const gotBoth = messages(await both.take(news.length * rounds))
  t.same(gotBoth.filter((f) => f.topic === news[1]).map((f) => [f.seq, f.subscription]), [1, 2, 3, 4, 5].map((seq) => [seq, undefined]), 'the exact subscription wins, once each')
  t.same(gotBoth.filter((f) => f.topic !== news[1]).length, (news.length - 1) * rounds, 'the pattern brings the other news topics')
  t.same(messages(await both.drain()), [])

  // Figures are cluster-wide, from either node.
  const figures = await (await fetch(`${a.url}/topics?prefix=news.`)).json() as Frame
  t.match(figures.topics.find((f: Frame) => f.topic === news[1]), { subscribers: 2, seq: 5 }, 'subscribers on node B, read on node A')
  t.same(figures.patterns.map((p: Frame) => [p.pattern, p.subscribers]), [['news.*', 3], ['news.>', 1]])
  const one = await (await fetch(`${b.url}/topics/${news[0] as string}`)).json() as Frame
  t.match(one, { topic: news[0], subscribers: 1, seq: 5 })
  t.equal(one.clients.length, 1, 'presence lists the client on node A')

  // A REST publish on B reaches A's exact subscriber.
  await post(b.url, news[0] as string, 'rest')
  t.match(await (subscribers[0] as typeof subscribers[0]).client.next(), { type: 'message', topic: news[0], seq: 6, data: 'rest' })

  // One sharded subscription per node per channel: its primary counts two (A and B) for news.*'s fan-in channels.
  const channel = `${prefix}{${GROUP_TAGS[groupOf(news[0] as string)] as string}}:m:${news[0] as string}`
  const counts = await Promise.all(ports.slice(0, 3).map(async (port) => await cli(port, 'PUBSUB', 'SHARDNUMSUB', channel)))
  t.ok(counts.some((reply) => reply.trim().endsWith('\n1')), 'the topic channel has one subscriber: node A, for its one client')
})

t.test('REDIS_CLUSTER_NODES with --workers 2: both processes on the cluster; SIGTERM stops them all', { skip: missing }, async (t) => {
  const port = String(await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => { resolve((probe.address() as AddressInfo).port); probe.close() })
  }))
  const primary = start({ REDIS_CLUSTER_NODES: (cluster as RedisCluster).nodes.slice(0, 2).join(','), REDIS_KEY_PREFIX: `${nanoid(6)}:`, PORT: port, LOG_LEVEL: 'info' }, ['--workers', '2'])
  t.teardown(() => primary.kill('SIGKILL'))
  const pids = new Set<unknown>()
  const listening = await logLine(primary, (l) => { if (l.msg === 'fastify-pubsub listening') pids.add(l.pid); return pids.size === 2 })
  t.match(listening, { engine: 'redis-cluster' }, 'the startup line names the engine')
  const url = `http://127.0.0.1:${port}`
  await eventually(async () => (await fetch(`${url}/ready`)).status === 200)
  // Round-robin: of four connections, some land on each worker.
  const clients = await Promise.all([1, 2, 3, 4].map(async () => await connectWelcomed(t, url)))
  // /ready answered by one worker: the other may still be connecting to the cluster (UNAVAILABLE).
  for (const [i, client] of clients.entries()) await eventually(async () => (await client.subscribeOrError(i % 2 === 0 ? 'all.x' : 'all.*')).type === 'ack')
  await eventually(async () => ((await (await fetch(`${url}/topics/all.x`)).json()) as Frame).subscribers === 2)
  await post(url, 'all.x', 'hello')
  for (const client of clients) t.match(await client.next(), { type: 'message', topic: 'all.x', data: 'hello', seq: 1 })
  const exited = once(primary, 'exit')
  primary.kill('SIGTERM')
  t.same(await exited, [0, null])
})

t.test('slots moved under subscribed nodes (redis-cli --cluster reshard): delivery goes on, once each, in order', { skip: missing }, async (t) => {
  const { nodes, ports } = cluster as RedisCluster
  const prefix = `${nanoid(6)}:`
  const a = await clusterNode(t, nodes.slice(0, 1), prefix)
  const b = await clusterNode(t, nodes.slice(1, 2), prefix)
  // A topic of group 0: its slot is among the first ones, which the first primary holds and gives away.
  let i = 0
  while (groupOf(`r.${i}`) !== 0) i++
  const topic = `r.${i}`
  const exact = await connectWelcomed(t, b.url)
  await exact.subscribe(topic)
  const pattern = await connectWelcomed(t, b.url)
  await pattern.subscribe('r.*')
  for (let n = 1; n <= 3; n++) await post(a.url, topic, n)
  const [from, to] = [(await cli(ports[0] as number, 'CLUSTER', 'MYID')).trim(), (await cli(ports[1] as number, 'CLUSTER', 'MYID')).trim()]
  await promisify(execFile)('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${ports[0] as number}`, '--cluster-from', from, '--cluster-to', to, '--cluster-slots', '300', '--cluster-yes'], { timeout: 30_000 })
  t.match(await cli(ports[1] as number, 'CLUSTER', 'NODES'), new RegExp(`^${to} .* 0-299 `, 'm'), 'group 0 is on the second primary now')
  for (let n = 4; n <= 10; n++) await eventually(async () => (await post(a.url, topic, n)).status === 200)
  for (const client of [exact, pattern]) {
    const frames = [...await client.take(10), ...await client.drain()]
    // The pattern's node cannot tell what it may have missed while resubscribing: its clients are told (docs/protocol.md, "Resets").
    t.ok(frames.every((f) => f.type === 'message' || (f.type === 'reset' && f.topic === 'r.*')), 'nothing but the messages, and resets of the pattern')
    t.same(messages(frames).map((f) => f.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'every seq once, in order')
  }
})

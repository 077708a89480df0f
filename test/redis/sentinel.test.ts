// The Redis engine on Sentinel: a real primary, replica and three sentinels,
// the primary SIGKILLed while publishes flow through two nodes. The replica
// is cut off first, so the primary it replaces really lacks the last
// acknowledged messages: nobody may get them silently replaced.
import t, { type Test } from 'tap'
import { nanoid } from 'nanoid'
import WebSocket from 'ws'
import { PubsubClient } from '../../src/client/index.js'
import { connectWelcomed, eventually, type Frame } from '../helper.js'
import { Observer, publishThrough } from '../faults/observer.js'
import { node, post } from './node.js'
import { freePort, redisMissing, RedisServer } from './redis-server.js'
import { FAILOVER_MS, MASTER_NAME, SentinelGroup } from './sentinels.js'

const missing = redisMissing()
const MESSAGES = 60
const CUT_OFF = 20
const FAILOVER = 30

function client (t: Test, base: string): PubsubClient {
  const sdk = new PubsubClient({ url: `${base.replace(/^http/, 'ws')}/ws`, WebSocket, reconnect: { initialDelay: 10, maxDelay: 100 }, requestTimeout: 2000 })
  t.teardown(() => sdk.close())
  return sdk
}

async function observer (t: Test, base: string, topic: string): Promise<Observer> {
  const sdk = client(t, base)
  await sdk.connect()
  const watching = new Observer(sdk, topic)
  await sdk.subscribe(topic, () => {}).ready
  return watching
}

/** The wire contract on one connection: seqs only rise, but after a reset (a new epoch), which sets where they go on from. */
function checkFrames (t: Test, frames: Frame[], label: string): void {
  let seq = 0
  let bad: string | undefined
  for (const frame of frames) {
    if (frame.type === 'reset') seq = frame.seq as number
    if (frame.type !== 'message') continue
    if ((frame.seq as number) <= seq) bad ??= `seq ${frame.seq as number} after ${seq}: a seq seen twice, untold`
    seq = frame.seq as number
  }
  t.equal(bad, undefined, `${label}: no seq reused without a reset`)
}

t.test('Sentinel: the primary dies with a replica that lacks its last messages; both nodes follow the promotion, every client is told, none gets a seq twice', { skip: missing }, async (t) => {
  const group = await SentinelGroup.start(t)
  const prefix = `${nanoid(6)}:`
  const settings = { sentinels: group.sentinels, name: MASTER_NAME, timeout: 300 }
  const a = await node(t, undefined, prefix, settings)
  const b = await node(t, undefined, prefix, settings)
  const watching = [await observer(t, a.url, 'ticks'), await observer(t, a.url, 'ticks'), await observer(t, b.url, 'ticks')]
  // Raw frames of a connection that stays, and of one that leaves before the failover and resumes after it.
  const staying = await connectWelcomed(t, a.url)
  const ack = await staying.subscribe('ticks')
  const frames: Frame[] = []
  staying.ws.on('message', (data) => { frames.push(JSON.parse(String(data)) as Frame) })
  const leaving = await connectWelcomed(t, b.url)
  await leaving.subscribe('ticks')
  const publisher = client(t, b.url)
  await publisher.connect()

  let replicaSeq = 0
  const cutOff = async (): Promise<void> => {
    // Replicating from a port nothing listens on: what follows only the primary has.
    await group.replica.run(`REPLICAOF 127.0.0.1 ${await freePort()}`)
  }
  let left: Frame | undefined
  const failover = async (): Promise<void> => {
    replicaSeq = Number(/\r\n(\d+)\r\n/.exec(await group.replica.run(`HGET ${prefix}meta:ticks seq`))?.[1])
    left = (await leaving.take(FAILOVER)).at(-1)
    leaving.ws.close()
    await group.failover()
  }
  const acknowledged = await publishThrough(publisher, 'ticks', MESSAGES, new Map([[CUT_OFF, cutOff], [FAILOVER, failover]]))
  t.ok(replicaSeq >= CUT_OFF && replicaSeq < FAILOVER, `the promoted replica had seq ${replicaSeq} of the ${FAILOVER} acknowledged`)
  t.match(left, { type: 'message', seq: FAILOVER })

  const after = acknowledged.slice(FAILOVER)
  for (const [i, one] of watching.entries()) {
    await one.settle(acknowledged, FAILOVER_MS)
    one.check(t, acknowledged, `client ${i}`)
    t.ok(one.told > 0, `client ${i}: told that messages may be lost`)
    t.ok(after.every((n) => one.received.includes(n)), `client ${i}: every message after the promotion`)
  }
  await eventually(() => frames.some((f) => f.type === 'message' && f.data === MESSAGES))
  checkFrames(t, frames, 'the connection that stayed')
  const resets = frames.slice(1).filter((f) => f.type === 'reset')
  t.ok(resets.length > 0 && resets.every((f) => f.epoch !== ack.epoch), 'it was told of a new epoch')

  const back = await connectWelcomed(t, a.url)
  back.send({ action: 'subscribe', topic: 'ticks', since: (left as Frame).seq, epoch: ack.epoch, id: 'r' })
  const resumed = await back.next()
  t.match(resumed, { type: 'ack', id: 'r', recovered: false }, 'a client resuming across the failover is told it cannot')
  t.not(resumed.epoch, ack.epoch)
})

t.test('primaryChange \'new-epoch\' with a URL: an AOF Redis restarted keeps its data but is another primary; subscribers are told, resumes are refused', { skip: missing }, async (t) => {
  const redis = await RedisServer.start(t, { persist: true })
  const prefix = `${nanoid(6)}:`
  const a = await node(t, redis.url, prefix, { primaryChange: 'new-epoch' })
  const subscriber = await connectWelcomed(t, a.url)
  const ack = await subscriber.subscribe('kept')
  for (let i = 1; i <= 3; i++) await post(a.url, 'kept', i)
  t.same((await subscriber.take(3)).map((f) => f.seq), [1, 2, 3])
  await redis.stop()
  await redis.restart()
  await eventually(async () => (await post(a.url, 'kept', 4)).status === 200)
  const reset = await subscriber.next()
  t.match(reset, { type: 'reset', topic: 'kept', seq: 0 }, 'told, though the AOF kept seq 3')
  t.not(reset.epoch, ack.epoch)
  t.match(await subscriber.next(), { type: 'message', seq: 1, data: 4 }, 'the new epoch\'s first message')
  const back = await connectWelcomed(t, a.url)
  back.send({ action: 'subscribe', topic: 'kept', since: 3, epoch: ack.epoch, id: 'r' })
  t.match(await back.next(), { type: 'ack', recovered: false, epoch: reset.epoch })
})

import t from 'tap'
import type { Writable } from 'node:stream'
import WebSocket from 'ws'
import { encodeTextFrame, publishAckJson } from '../../src/protocol/frame.js'
import type { PublishAck } from '../../src/protocol/frames.js'
import { connectWelcomed, listen } from '../helper.js'

// ws's frame parser, which @types/ws does not declare.
const { Receiver } = WebSocket as unknown as { Receiver: new (options: { isServer: boolean }) => Writable }

t.test('frames decode with ws at every length encoding', async (t) => {
  for (const length of [0, 1, 125, 126, 127, 65535, 65536, 100_000]) {
    const text = 'é'.repeat(Math.floor(length / 2)) + 'x'.repeat(length % 2)
    const frame = encodeTextFrame(text)
    const receiver = new Receiver({ isServer: false })
    const got = await new Promise<[Buffer, boolean]>((resolve, reject) => {
      receiver.on('message', (data: Buffer, isBinary: boolean) => resolve([data, isBinary]))
      receiver.on('error', reject)
      receiver.write(frame)
    })
    t.equal(got[0].toString(), text, `${length} bytes`)
    t.equal(got[1], false, 'a text frame')
  }
})

t.test("a publish's ack is the text JSON.stringify writes for it", async (t) => {
  const acks: PublishAck[] = [
    { type: 'ack', action: 'publish', topic: 'a', seq: 1 },
    { type: 'ack', id: 7, action: 'publish', topic: 'chat.room-1', seq: 42 },
    { type: 'ack', id: -0.5e-7, action: 'publish', topic: 'x', seq: 2 },
    { type: 'ack', id: 'say "hi"\\ é\u2028', action: 'publish', topic: 'user:1.inbox', seq: 3 },
    { type: 'ack', id: 1, action: 'publish', topic: 't', seq: 4, epoch: 'ep"1' },
    { type: 'ack', id: 'k', action: 'publish', topic: 't', seq: 4, epoch: 'ep-1', duplicate: true }
  ]
  // Named by index: a raw U+2028 in an assertion's name would split its TAP line.
  for (const [i, ack] of acks.entries()) {
    t.equal(publishAckJson(ack.id, ack.topic, ack.seq, ack.epoch, ack.duplicate), JSON.stringify(ack), `ack ${i}`)
  }
})

t.test('a message over 64 KiB reaches a real client whole', async (t) => {
  const { app, url } = await listen(t, { bodyLimit: 1 << 20 })
  const c = await connectWelcomed(t, url)
  await c.subscribe('big')
  const data = 'y'.repeat(200_000)
  await app.pubsub.publish('big', data)
  t.match(await c.next(), { type: 'message', topic: 'big', data })
})

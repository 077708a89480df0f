import t from 'tap'
import type { Writable } from 'node:stream'
import WebSocket from 'ws'
import { encodeTextFrame } from '../../src/protocol/frame.js'
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

t.test('a message over 64 KiB reaches a real client whole', async (t) => {
  const { app, url } = await listen(t, { bodyLimit: 1 << 20 })
  const c = await connectWelcomed(t, url)
  await c.subscribe('big')
  const data = 'y'.repeat(200_000)
  await app.pubsub.publish('big', data)
  t.match(await c.next(), { type: 'message', topic: 'big', data })
})

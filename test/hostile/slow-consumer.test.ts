// A client whose socket is paused while tens of thousands of messages are
// published: the server's memory stays bounded, and a reading subscriber gets
// every message in order.
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { connectWelcomed, eventually, listen, maskedFrame, rawUpgrade } from '../helper.js'

t.test('30,000 messages past a stuck client: bounded memory, nothing lost for the others', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 256 * 1024, closeGrace: 500 })
  const stuck = await rawUpgrade(url)
  stuck.socket.write(maskedFrame('{"action":"subscribe","topic":"flood"}'))
  const reader = await connectWelcomed(t, url)
  await reader.subscribe('flood')
  await eventually(async () => (await app.pubsub.topic('flood'))?.subscribers === 2)

  const seqs: number[] = []
  // Only this listener: the helper's would keep every frame (30 MB) in the heap being measured.
  reader.ws.removeAllListeners('message')
  reader.ws.on('message', (data) => { seqs.push(JSON.parse(String(data)).seq) })
  // Live memory, not garbage waiting for a collection that timing decides.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  const baseline = process.memoryUsage()
  let peakBuffers = 0
  let peakHeap = 0
  const total = 30_000
  const payload = 'x'.repeat(1024)
  for (let i = 1; i <= total; i++) {
    await app.pubsub.publish('flood', payload)
    if (i % 1000 === 0) {
      // A backlog that grew with the messages would show here: every 1,000.
      gc()
      const { arrayBuffers, heapUsed } = process.memoryUsage()
      peakBuffers = Math.max(peakBuffers, arrayBuffers - baseline.arrayBuffers)
      peakHeap = Math.max(peakHeap, heapUsed - baseline.heapUsed)
    }
    if (i % 100 === 0) {
      // Let the reading client keep up, as a paced publisher would: what the
      // reader (in this same process) has in flight must not count against the
      // server's bound, whatever else the machine is doing.
      await eventually(() => seqs.length >= i - 100)
    }
  }
  await eventually(() => seqs.length >= total)
  t.equal(seqs.length, total, 'the reading subscriber got every message')
  t.ok(seqs.every((seq, i) => i === 0 || seq === (seqs[i - 1] as number) + 1), 'in seq order, without gaps')
  t.equal((await app.pubsub.topic('flood'))?.subscribers, 1, 'the stuck client was dropped')
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)
  t.comment(`peak live growth while flooding ${mib(total * 1100)} MiB of frames: buffers ${mib(peakBuffers)} MiB, heap ${mib(peakHeap)} MiB`)
  // Unbounded, the stuck client's queue alone would hold ~32 MiB of frames;
  // the rest is the reader's at most 200 frames in flight, and garbage.
  t.ok(peakBuffers < 16 * 2 ** 20, `buffers grew by ${mib(peakBuffers)} MiB (< 16 MiB)`)
  t.ok(peakHeap < 16 * 2 ** 20, `heap grew by ${mib(peakHeap)} MiB (< 16 MiB)`)
  stuck.socket.destroy()
})

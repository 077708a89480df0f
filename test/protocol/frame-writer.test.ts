import { PassThrough } from 'node:stream'
import t from 'tap'
import { FlushScheduler, FrameWriter } from '../../src/protocol/frame-writer.js'

function writer (maxBufferedBytes = 1024): { writer: FrameWriter, socket: PassThrough, dropped: () => number, close: () => void, overflows: number[] } {
  let open = true
  let dropped = 0
  const overflows: number[] = []
  const socket = new PassThrough()
  const frameWriter = new FrameWriter({
    isOpen: () => open,
    socket,
    scheduler: new FlushScheduler(),
    maxBufferedBytes,
    onOverflow: (buffered) => { overflows.push(buffered) },
    onDrop: (messages) => { dropped += messages }
  })
  return { writer: frameWriter, socket, dropped: () => dropped, close: () => { open = false }, overflows }
}

t.test('dropped counts live messages only: refused, left queued at a close, or discarded', async (t) => {
  const w = writer()
  w.writer.send(Buffer.from('reply'))
  w.writer.send(Buffer.from('m1'), true)
  w.writer.send(Buffer.from('m2'), true)
  w.close()
  w.writer.flush()
  t.equal(w.dropped(), 2, 'two messages were queued when the connection started closing; the reply is not counted')
  t.equal(w.socket.readableLength, 0, 'nothing written after the close')
  w.writer.send(Buffer.from('m3'), true)
  w.writer.send(Buffer.from('reply'))
  t.equal(w.dropped(), 3, 'a message sent to a closing connection')
})

t.test('over the bound: the message is refused and counted, the owner told; discard counts what was queued', async (t) => {
  const w = writer(4)
  w.writer.send(Buffer.from('12345'), true)
  w.writer.send(Buffer.from('m'), true)
  t.same(w.overflows, [5])
  t.equal(w.dropped(), 1)
  w.writer.discard()
  t.equal(w.dropped(), 2, 'the first, queued, is discarded')
  w.writer.discard()
  t.equal(w.dropped(), 2, 'nothing twice')
})

t.test('flushed frames go out in one write, and are not counted', async (t) => {
  const w = writer()
  w.writer.send(Buffer.from('a'), true)
  w.writer.send(Buffer.from('b'))
  w.writer.flush()
  t.equal(String(w.socket.read()), 'ab')
  t.equal(w.dropped(), 0)
})

import { PassThrough, Writable } from 'node:stream'
import t from 'tap'
import { Message } from '../../src/pubsub/message.js'
import { FlushScheduler } from '../../src/transport/flush-scheduler.js'
import { FrameWriter } from '../../src/transport/frame-writer.js'

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

t.test('over the hard cap within one turn: the message is refused and counted, the owner told; discard counts what was queued', async (t) => {
  // maxBufferedBytes 4: a turn may queue up to 8 x 4 = 32 bytes.
  const w = writer(4)
  for (let i = 0; i < 7; i++) w.writer.send(Buffer.from('12345'), true)
  t.same(w.overflows, [], 'a turn\'s own frames are not a backlog')
  w.writer.send(Buffer.from('m'), true)
  t.same(w.overflows, [35], 'past the cap, the bytes queued and unsent')
  t.equal(w.dropped(), 1)
  w.writer.discard()
  t.equal(w.dropped(), 8, 'the seven queued are discarded')
  w.writer.discard()
  t.equal(w.dropped(), 8, 'nothing twice')
})

/** A socket that takes nothing until `read()`: what a client that stops reading looks like from the server. */
function stuckSocket (): { socket: Writable, read: () => void } {
  const pending: Array<() => void> = []
  const socket = new Writable({ write (_chunk, _encoding, callback) { pending.push(callback) } })
  return { socket, read: () => { while (pending.length > 0) (pending.shift() as () => void)() } }
}

async function nextTurn (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

function stuckWriter (scheduler: FlushScheduler, socket: Writable, maxBufferedBytes: number): { writer: FrameWriter, overflows: number[] } {
  const overflows: number[] = []
  const frameWriter = new FrameWriter({
    isOpen: () => true,
    socket,
    scheduler,
    maxBufferedBytes,
    onOverflow: (buffered) => { overflows.push(buffered) },
    onDrop: () => {}
  })
  return { writer: frameWriter, overflows }
}

t.test('the backlog: what the socket still holds from before the previous turn\'s writes', async (t) => {
  const scheduler = new FlushScheduler()
  const { socket, read } = stuckSocket()
  const w = stuckWriter(scheduler, socket, 4)
  w.writer.send(Buffer.from('abcde'))
  await nextTurn()
  t.equal(socket.writableLength, 5, 'written, not taken')
  w.writer.send(Buffer.from('f'))
  t.same(w.overflows, [], 'the previous turn\'s 5 bytes have not had their turn yet')
  await nextTurn()
  read()
  w.writer.send(Buffer.from('g'))
  t.same(w.overflows, [], 'a client that read everything')
  await nextTurn()
  w.writer.send(Buffer.from('hijkl'))
  await nextTurn()
  w.writer.send(Buffer.from('m'))
  t.same(w.overflows, [], '1 byte older than the previous turn: under 4')
  await nextTurn()
  w.writer.send(Buffer.from('n'))
  t.same(w.overflows, [7], 'then 6: over 4, the bytes unsent are reported')

  // A writer idle for a turn: all it holds has had a turn to go.
  const other = stuckSocket()
  const idle = stuckWriter(scheduler, other.socket, 4)
  idle.writer.send(Buffer.from('abcde'))
  await nextTurn()
  // Another writer's frames end the next turn.
  read()
  w.writer.send(Buffer.from('o'))
  await nextTurn()
  idle.writer.send(Buffer.from('f'))
  t.same(idle.overflows, [5], 'written two turns ago, still there')
})

t.test('an early flush within a busy turn counts as that turn\'s writes', async (t) => {
  const scheduler = new FlushScheduler()
  const { socket } = stuckSocket()
  const w = stuckWriter(scheduler, socket, 512 * 1024)
  const turn = scheduler.turn
  w.writer.send(Buffer.from('a'))
  // A turn that has run past the 2 ms a frame may wait.
  const start = performance.now()
  while (performance.now() - start <= 2) { /* busy */ }
  // The clock is looked at every 256 frames.
  for (let i = 0; i < 255; i++) w.writer.send(Buffer.alloc(4096))
  t.equal(socket.writableLength, 255 * 4096 + 1, 'the 256th frame of a turn past 2 ms: written at once')
  t.equal(scheduler.turn, turn, 'still the same turn')
  w.writer.send(Buffer.from('b'))
  await nextTurn()
  t.equal(scheduler.turn, turn + 1)
  w.writer.send(Buffer.from('c'))
  t.same(w.overflows, [], 'the whole turn\'s writes, early and late, are the previous turn\'s: not a backlog yet')
  await nextTurn()
  w.writer.send(Buffer.from('d'))
  t.same(w.overflows, [255 * 4096 + 3], 'a turn later they are')
})

t.test('a busy turn of large frames is written every MiB queued, not every 256 frames', async (t) => {
  const scheduler = new FlushScheduler()
  const { socket } = stuckSocket()
  const w = stuckWriter(scheduler, socket, 1024 * 1024)
  w.writer.send(Buffer.alloc(60_000))
  const start = performance.now()
  while (performance.now() - start <= 2) { /* busy */ }
  for (let i = 1; i < 17; i++) w.writer.send(Buffer.alloc(60_000))
  t.equal(socket.writableLength, 0, '17 x 60 KB: under a MiB, still queued')
  w.writer.send(Buffer.alloc(60_000))
  t.equal(socket.writableLength, 18 * 60_000, 'the 18th frame passes a MiB: written at once')
  await nextTurn()
})

t.test('flushed frames go out in one write, and are not counted', async (t) => {
  const w = writer()
  w.writer.send(Buffer.from('a'), true)
  w.writer.send(Buffer.from('b'))
  w.writer.flush()
  t.equal(String(w.socket.read()), 'ab')
  t.equal(w.dropped(), 0)
})

t.test('conflation: a subscription that ends takes what is held through it, so nothing of it follows its ack', async (t) => {
  const scheduler = new FlushScheduler()
  const written: string[] = []
  const pending: Array<() => void> = []
  const socket = new Writable({ write (chunk, _encoding, callback) { written.push(String(chunk)); pending.push(callback) } })
  let dropped = 0
  const writer = new FrameWriter({
    isOpen: () => true,
    socket,
    scheduler,
    maxBufferedBytes: 4,
    onOverflow: () => { t.fail('not a slow consumer: its topics conflate') },
    onDrop: (messages) => { dropped += messages },
    conflation: { conflates: () => true, encode: (message, _subscription, skipped) => Buffer.from(`${message.topic}#${message.seq}+${skipped}`), skipped: () => {} }
  })
  writer.send(Buffer.from('abcde'))
  await nextTurn()
  writer.send(Buffer.from('f'))
  await nextTurn()
  // 5 bytes unsent for a whole turn: behind.
  const message = (topic: string, seq: number): Message => new Message(topic, seq, 'e', 0, String(seq))
  const frame = (m: Message): Buffer => Buffer.from(`${m.topic}#${m.seq}`)
  for (const m of [message('prices.a', 1), message('prices.a', 2)]) writer.deliver(m, undefined, frame(m))
  const b = message('prices.b', 1)
  writer.deliver(b, 'prices.*', frame(b))
  writer.forget('prices.a')
  writer.forget('prices.b')
  t.equal(dropped, 1, 'the held prices.a is dropped; prices.b came through prices.*, which stays')
  await nextTurn()
  // The client reads again.
  while (pending.length > 0) (pending.shift() as () => void)()
  await nextTurn()
  t.same(written, ['abcde', 'f', 'prices.b#1'], 'only what is still subscribed goes out once the socket takes more')
  writer.forget('prices.*')
  t.equal(dropped, 1, 'nothing held any more')
})

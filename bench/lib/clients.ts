// One client per server kind, all on the same lean WebSocket transport and
// behind one small interface, so that every scenario runs the same way
// against every server and no server is measured through a heavier client.
import { LeanWs } from './lean-ws.js'

export type ServerKind = 'fastify-pubsub' | 'raw-ws' | 'socket.io' | 'mosquitto' | 'nats'

export interface BenchClient {
  /** Resolves once the server confirms the subscription. */
  subscribe (topic: string): Promise<void>
  /** `payload` is JSON text of an object; fire and forget. */
  publish (topic: string, payload: string): void
  close (): void
}

/**
 * Called once per delivered message with the bytes that hold its payload
 * (`data[start, end)` contains the published JSON object); valid only during the call.
 */
export type OnDelivery = (data: Buffer, start: number, end: number) => void

export interface ConnectOptions {
  kind: ServerKind
  /** ws://host:port */
  url: string
  onDelivery: OnDelivery
  /** Source address, to spread many connections over loopback addresses. */
  localAddress?: string | undefined
}

export async function connectClient (options: ConnectOptions): Promise<BenchClient> {
  switch (options.kind) {
    case 'fastify-pubsub': return await connectJson(`${options.url}/ws`, options)
    case 'raw-ws': return await connectJson(options.url, options)
    case 'socket.io': return await connectSocketIo(options)
    case 'mosquitto': return await connectMqtt(options)
    case 'nats': return await connectNats(options)
  }
}

/** Resolvers of requests awaiting confirmation, in order. */
class Waiters {
  readonly #queue: Array<() => void> = []
  async wait (send: () => void): Promise<void> {
    const done = new Promise<void>((resolve) => this.#queue.push(resolve))
    send()
    await done
  }

  resolve (): void {
    this.#queue.shift()?.()
  }
}

const MESSAGE = Buffer.from('{"type":"message"')
const SUBSCRIBE_ACK = Buffer.from('"action":"subscribe"')

function startsWith (data: Buffer, start: number, prefix: Buffer): boolean {
  return data.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0
}

// fastify-pubsub and the raw-ws reference speak the same JSON frames.
async function connectJson (url: string, options: ConnectOptions): Promise<BenchClient> {
  const acks = new Waiters()
  const ws = await LeanWs.connect({
    url,
    localAddress: options.localAddress,
    onFrame (data, start, end) {
      if (startsWith(data, start, MESSAGE)) {
        options.onDelivery(data, start, end)
        return
      }
      // Bounded to this frame: a chunk may hold thousands of publish acks.
      const ack = data.indexOf(SUBSCRIBE_ACK, start)
      if (ack !== -1 && ack < end) acks.resolve()
    }
  })
  return {
    async subscribe (topic) { await acks.wait(() => ws.send(`{"action":"subscribe","topic":"${topic}"}`)) },
    publish (topic, payload) { ws.send(`{"action":"publish","topic":"${topic}","message":${payload}}`) },
    close () { ws.close() }
  }
}

// socket.io 4 over engine.io 4: `0` open, `40` namespace connect, `2`/`3`
// ping/pong, `42[...]` events, `42<id>[...]`/`43<id>[...]` acknowledgements.
async function connectSocketIo (options: ConnectOptions): Promise<BenchClient> {
  const acks = new Waiters()
  let connected: (() => void) | undefined
  const ready = new Promise<void>((resolve) => { connected = resolve })
  // Frames may come before connect() resolves: reply through the frame's own client.
  const ws = await LeanWs.connect({
    url: `${options.url}/socket.io/?EIO=4&transport=websocket`,
    localAddress: options.localAddress,
    onFrame (data, start, end, ws) {
      const type = data[start]
      if (type === 0x34 && data[start + 1] === 0x32) options.onDelivery(data, start, end) // 42: an event
      else if (type === 0x32 && end - start === 1) ws.send('3') // engine.io ping
      else if (type === 0x30) ws.send('40') // engine.io open: connect the main namespace
      else if (type === 0x34 && data[start + 1] === 0x30) connected?.() // 40: namespace connected
      else if (type === 0x34 && data[start + 1] === 0x33) acks.resolve() // 43<id>: ack
    }
  })
  await ready
  let ackId = 0
  return {
    async subscribe (topic) { await acks.wait(() => ws.send(`42${ackId++}["subscribe","${topic}"]`)) },
    publish (topic, payload) { ws.send(`42["publish","${topic}",${payload}]`) },
    close () { ws.close() }
  }
}

// NATS over its websocket listener: the same text protocol as over TCP.
async function connectNats (options: ConnectOptions): Promise<BenchClient> {
  const pongs = new Waiters()
  let stream: Buffer = Buffer.alloc(0)
  let greeted: (() => void) | undefined
  const info = new Promise<void>((resolve) => { greeted = resolve })
  const ws = await LeanWs.connect({
    url: options.url,
    localAddress: options.localAddress,
    onFrame (data, start, end, ws) {
      // Protocol messages may span frames: parse a stream.
      stream = stream.length === 0 ? data.subarray(start, end) : Buffer.concat([stream, data.subarray(start, end)])
      let at = 0
      for (;;) {
        const eol = stream.indexOf('\r\n', at)
        if (eol === -1) break
        const op = stream.toString('latin1', at, Math.min(at + 4, eol))
        if (op === 'MSG ') {
          // MSG <subject> <sid> [reply] <bytes>
          const bytes = Number(stream.toString('latin1', stream.lastIndexOf(' ', eol) + 1, eol))
          if (eol + 2 + bytes + 2 > stream.length) break
          options.onDelivery(stream, eol + 2, eol + 2 + bytes)
          at = eol + 2 + bytes + 2
          continue
        }
        if (op === 'PING') ws.send('PONG\r\n', true)
        else if (op === 'PONG') pongs.resolve()
        else if (op === 'INFO') greeted?.()
        at = eol + 2
      }
      stream = at >= stream.length ? Buffer.alloc(0) : Buffer.from(stream.subarray(at))
    }
  })
  await info
  await pongs.wait(() => ws.send('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n', true))
  let sid = 0
  return {
    async subscribe (topic) { await pongs.wait(() => ws.send(`SUB ${topic} ${++sid}\r\nPING\r\n`, true)) },
    publish (topic, payload) { ws.send(`PUB ${topic} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`, true) },
    close () { ws.close() }
  }
}

// MQTT 3.1.1 over websockets, QoS 0, packets parsed as a stream.
function mqttPacket (type: number, body: Buffer): Buffer {
  const length: number[] = []
  let n = body.length
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    length.push(byte)
  } while (n > 0)
  return Buffer.concat([Buffer.from([type, ...length]), body])
}

function mqttString (text: string): Buffer {
  const bytes = Buffer.from(text)
  const out = Buffer.alloc(2 + bytes.length)
  out.writeUInt16BE(bytes.length)
  bytes.copy(out, 2)
  return out
}

async function connectMqtt (options: ConnectOptions): Promise<BenchClient> {
  const acks = new Waiters()
  let stream: Buffer = Buffer.alloc(0)
  const ws = await LeanWs.connect({
    url: options.url,
    protocol: 'mqtt',
    localAddress: options.localAddress,
    onFrame (data, start, end) {
      stream = stream.length === 0 ? data.subarray(start, end) : Buffer.concat([stream, data.subarray(start, end)])
      let at = 0
      while (at + 2 <= stream.length) {
        let length = 0
        let multiplier = 1
        let i = at + 1
        let byte: number
        do {
          if (i >= stream.length) {
            stream = Buffer.from(stream.subarray(at))
            return
          }
          byte = stream[i++] as number
          length += (byte & 0x7f) * multiplier
          multiplier *= 128
        } while ((byte & 0x80) !== 0)
        if (i + length > stream.length) break
        const type = (stream[at] as number) >> 4
        if (type === 3) options.onDelivery(stream, i + 2 + stream.readUInt16BE(i), i + length) // PUBLISH, QoS 0
        else if (type === 2 || type === 9) acks.resolve() // CONNACK, SUBACK
        at = i + length
      }
      stream = at >= stream.length ? Buffer.alloc(0) : Buffer.from(stream.subarray(at))
    }
  })
  const id = `bench-${Math.random().toString(36).slice(2)}`
  // Protocol "MQTT", level 4, clean session, keep-alive off.
  const connectBody = Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0x02, 0, 0]), mqttString(id)])
  await acks.wait(() => ws.send(mqttPacket(0x10, connectBody), true))
  let packetId = 0
  return {
    async subscribe (topic) {
      const body = Buffer.concat([Buffer.from([0, ++packetId & 0xff]), mqttString(topic), Buffer.from([0])])
      await acks.wait(() => ws.send(mqttPacket(0x82, body), true))
    },
    publish (topic, payload) { ws.send(mqttPacket(0x30, Buffer.concat([mqttString(topic), Buffer.from(payload)])), true) },
    close () { ws.close() }
  }
}

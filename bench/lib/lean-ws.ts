// A minimal WebSocket client for the load generator. One generator core must
// take in hundreds of thousands of deliveries a second, more than `ws` plus a
// protocol library can; this one hands each frame's payload to the caller
// without copying it into a string, and the same client serves every server
// kind, so that no server is measured through a heavier client than another.
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

export interface LeanWsOptions {
  /** ws://host:port/path */
  url: string
  /** Sec-WebSocket-Protocol, e.g. `mqtt`. */
  protocol?: string
  localAddress?: string | undefined
  /** A text or binary frame: `data[start, end)` is its payload. Valid only during the call. */
  onFrame: (data: Buffer, start: number, end: number, ws: LeanWs) => void
}

const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa

export class LeanWs {
  readonly #socket: Socket
  readonly #onFrame: LeanWsOptions['onFrame']
  #pending: Buffer | undefined
  // Frames sent in one turn go out in one write, so that a publisher at full
  // speed costs the generator one syscall per turn, not per frame.
  #outgoing: Buffer[] = []

  private constructor (socket: Socket, onFrame: LeanWsOptions['onFrame']) {
    this.#socket = socket
    this.#onFrame = onFrame
  }

  static async connect (options: LeanWsOptions): Promise<LeanWs> {
    const url = new URL(options.url)
    const socket = connect({ host: url.hostname, port: Number(url.port), localAddress: options.localAddress })
    socket.setNoDelay(true)
    const key = randomBytes(16).toString('base64')
    const protocol = options.protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${options.protocol}\r\n`
    socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${protocol}\r\n`)
    const client = new LeanWs(socket, options.onFrame)
    await new Promise<void>((resolve, reject) => {
      let head = Buffer.alloc(0)
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        socket.off('data', onData)
        if (!head.subarray(0, 12).toString().includes(' 101')) {
          // Refused (a 503 at maxConnections): the socket is of no more use, and holds a descriptor.
          socket.destroy()
          reject(new Error(`upgrade refused: ${head.subarray(0, end).toString().split('\r\n')[0]}`))
          return
        }
        socket.on('data', (data: Buffer) => { client.#receive(data) })
        resolve()
        if (head.length > end + 4) client.#receive(head.subarray(end + 4))
      }
      socket.on('data', onData)
      socket.once('error', reject)
    })
    socket.on('error', () => {})
    return client
  }

  /** Sends one text (or binary) frame, masked with a zero key as a client must mask. */
  send (payload: string | Buffer, binary = false): void {
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload
    const length = body.length
    const header = Buffer.alloc(length < 126 ? 6 : length < 65536 ? 8 : 14)
    header[0] = 0x80 | (binary ? 0x2 : 0x1)
    if (length < 126) {
      header[1] = 0x80 | length
    } else if (length < 65536) {
      header[1] = 0x80 | 126
      header.writeUInt16BE(length, 2)
    } else {
      header[1] = 0x80 | 127
      header.writeBigUInt64BE(BigInt(length), 2)
    }
    // The mask key is the last four bytes, left zero: XOR with zero keeps the payload.
    if (this.#outgoing.length === 0) setImmediate(() => { this.#flush() })
    this.#outgoing.push(header, body)
  }

  #flush (): void {
    const data = Buffer.concat(this.#outgoing)
    this.#outgoing = []
    if (!this.#socket.destroyed) this.#socket.write(data)
  }

  close (): void {
    this.#socket.destroy()
  }

  #receive (chunk: Buffer): void {
    let data = chunk
    if (this.#pending !== undefined) {
      data = Buffer.concat([this.#pending, chunk])
      this.#pending = undefined
    }
    let at = 0
    while (at + 2 <= data.length) {
      const opcode = (data[at] as number) & 0x0f
      let length = (data[at + 1] as number) & 0x7f
      let start = at + 2
      if (length === 126) {
        if (start + 2 > data.length) break
        length = data.readUInt16BE(start)
        start += 2
      } else if (length === 127) {
        if (start + 8 > data.length) break
        length = Number(data.readBigUInt64BE(start))
        start += 8
      }
      const end = start + length
      if (end > data.length) break
      if (opcode === OP_PING) this.#control(OP_PONG, data.subarray(start, end))
      else if (opcode === OP_CLOSE) this.#socket.end()
      else if (opcode !== OP_PONG) this.#onFrame(data, start, end, this)
      at = end
    }
    if (at < data.length) this.#pending = Buffer.from(data.subarray(at))
  }

  #control (opcode: number, payload: Buffer): void {
    const header = Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0])
    this.#socket.write(Buffer.concat([header, payload]))
  }
}

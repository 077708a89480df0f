import type { RequestId } from './frames.js'

/**
 * Encodes a complete server-to-client WebSocket text frame (RFC 6455 §5.2):
 * FIN set, opcode 1, unmasked, then the payload as UTF-8. Servers never mask,
 * so the same bytes can go to every subscriber of a message.
 */
export function encodeTextFrame (payload: string): Buffer {
  const length = Buffer.byteLength(payload)
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x81
  if (length < 126) {
    frame[1] = length
  } else if (length < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(0, 2)
    frame.writeUInt32BE(length, 6)
  }
  frame.write(payload, headerLength)
  return frame
}

/**
 * The JSON text of a `message` frame; `json` is the data as JSON text and
 * `subscription` the pattern the receiver matched through (undefined for an
 * exact subscription). `skipped`: how many messages of the topic a
 * conflating subscriber did not get before this one (1.1), left out when
 * none. JSON text never holds a raw newline, so this is one SSE data line too.
 */
export function messageJson (topic: string, subscription: string | undefined, json: string, seq: number, ts: number, skipped = 0): string {
  // Topics and patterns are restricted to characters JSON never escapes.
  const via = subscription === undefined ? '' : `,"subscription":"${subscription}"`
  const conflated = skipped === 0 ? '' : `,"skipped":${skipped}`
  return `{"type":"message","topic":"${topic}"${via},"data":${json},"seq":${seq},"ts":${ts}${conflated}}`
}

/**
 * The JSON text of a publish's `ack`, key for key what JSON.stringify writes
 * for the PublishAck, without building the object: every WebSocket publish
 * gets one. `epoch` (and `duplicate`) only for a keyed publish.
 */
export function publishAckJson (id: RequestId | undefined, topic: string, seq: number, epoch?: string, duplicate?: boolean): string {
  const echoed = id === undefined ? '' : `,"id":${JSON.stringify(id)}`
  const keyed = epoch === undefined ? '' : `,"epoch":${JSON.stringify(epoch)}${duplicate === true ? ',"duplicate":true' : ''}`
  // Topics are restricted to characters JSON never escapes.
  return `{"type":"ack"${echoed},"action":"publish","topic":"${topic}","seq":${seq}${keyed}}`
}

/** One Server-Sent Event of one data line, with an `id:` line when given one. */
export function encodeSseEvent (data: string, id?: string): Buffer {
  return Buffer.from(id === undefined ? `data: ${data}\n\n` : `id: ${id}\ndata: ${data}\n\n`)
}

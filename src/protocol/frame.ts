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

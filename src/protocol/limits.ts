/**
 * The largest value a timer or ws's maxPayload takes (both use 32-bit signed
 * integers): the server's options and settings and the SDK's timers all cap
 * at it.
 */
export const MAX_INT32 = 2 ** 31 - 1

/**
 * The frame size past which ws itself closes a connection with 1009, for a
 * given maxPayload: twice it. A frame between the two is read and answered
 * with an error frame, so that one oversized publish does not drop the
 * connection's subscriptions; the factor bounds what a client can make the
 * server buffer.
 */
export function closingFrameBytes (maxPayload: number): number {
  return Math.min(MAX_INT32, 2 * maxPayload)
}

/**
 * The largest value a timer or ws's maxPayload takes (both use 32-bit signed
 * integers): the server's options and settings and the SDK's timers all cap
 * at it.
 */
export const MAX_INT32 = 2 ** 31 - 1

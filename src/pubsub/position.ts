import type { Message } from './message.js'
import type { Position, SubscribeResult } from './session.js'

/**
 * Whether `message` is at or before `position`: the same epoch and no higher
 * seq. A message of another epoch is never behind (the sequence restarted).
 */
export function isBehind (message: Message, position: Position): boolean {
  return message.epoch === position.epoch && message.seq <= position.seq
}

/**
 * Where a topic subscription's live delivery starts, from its ack: after
 * `since` when it recovered (the replay follows), after the ack's seq
 * otherwise. Undefined for a pattern, which has no single position.
 */
export function ackFloor (result: SubscribeResult, since: number | undefined): Position | undefined {
  if (result.epoch === undefined) return undefined
  return { seq: result.recovered === true ? since as number : result.seq as number, epoch: result.epoch }
}

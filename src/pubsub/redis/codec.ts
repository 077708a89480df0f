// The two record formats the Lua of scripts.ts writes, read back here:
// PUBLISH payloads `seq \n epoch \n ts \n json`, history entries
// `seq \n ts \n json`. The JSON goes last, so that it may hold newlines.
import type { Retained } from '../history.js'
import { Message } from '../message.js'

/** The message a PUBLISH payload of `topic` carries. */
export function decodeMessage (topic: string, payload: string): Message {
  const first = payload.indexOf('\n')
  const second = payload.indexOf('\n', first + 1)
  const third = payload.indexOf('\n', second + 1)
  return new Message(topic, Number(payload.slice(0, first)), payload.slice(first + 1, second), Number(payload.slice(second + 1, third)), payload.slice(third + 1))
}

/**
 * The history entries published at or after `oldest` (ms since the epoch).
 * Nodes' clocks differ, so a middle entry may look older than a later one:
 * everything up to the last expired entry goes, so that what is kept has no
 * gap.
 */
export function decodeRetained (entries: string[], oldest: number): Retained[] {
  let retained: Retained[] = []
  for (const entry of entries) {
    const first = entry.indexOf('\n')
    const second = entry.indexOf('\n', first + 1)
    const ts = Number(entry.slice(first + 1, second))
    if (ts < oldest) retained = []
    else retained.push({ seq: Number(entry.slice(0, first)), ts, json: entry.slice(second + 1) })
  }
  return retained
}

// Where the Redis Cluster engine puts a topic: Redis Cluster hashes a key
// (or a sharded channel) to one of 16384 slots by the CRC16 of its hash tag,
// the text between its first `{` and the next `}` (cluster spec, "Hash
// tags"). A topic's keys and channels share the tag of its slot group, so
// that one script touches them all; a pattern listens on fan-in channels of
// the same groups (docs/scaling.md, "Redis Cluster").

/** Slots of a Redis Cluster. */
export const SLOTS = 16384

/**
 * Slot groups: a topic lives in one of them, by the hash of its name. Each
 * group's tag hashes into its own 1/64 of the slots, so that any even split
 * of the slots among shards splits the groups evenly too. Every node of a
 * deployment must agree on it: it is part of the key layout.
 */
export const GROUPS = 64

/**
 * Fan-in channels of a group for patterns, by the hash of a topic's first
 * token: `news.*` listens on one of them in each group, `*.x` and `>` on all.
 */
export const PARTITIONS = 16

/** CRC16/XMODEM, the checksum Redis Cluster takes of a hash tag. */
export function crc16 (text: string): number {
  let crc = 0
  for (const byte of Buffer.from(text)) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

/** The slot of a hash tag's text, as Redis computes it. */
export function slotOf (tag: string): number {
  return crc16(tag) % SLOTS
}

/**
 * The tag of each group: the first decimal number whose slot falls in the
 * group's range of slots (found once, the same on every node).
 */
export const GROUP_TAGS: readonly string[] = (() => {
  const tags: string[] = new Array<string>(GROUPS)
  let found = 0
  for (let n = 0; found < GROUPS; n++) {
    const group = Math.floor(slotOf(String(n)) * GROUPS / SLOTS)
    if (tags[group] !== undefined) continue
    tags[group] = String(n)
    found++
  }
  return tags
})()

/** The group a topic lives in. */
export function groupOf (topic: string): number {
  return crc16(topic) % GROUPS
}

/** The fan-in partition of a topic's (or a pattern's literal) first token. */
export function partitionOf (firstToken: string): number {
  return crc16(firstToken) % PARTITIONS
}

// Sentinel addresses as the server's REDIS_SENTINELS and the plugin's
// `sentinels` take them, checked before ioredis sees them: it would retry a
// malformed address forever instead of saying so.

/** What `parseSentinels` takes, in words. */
export const SENTINELS_RULE = "a non-empty list of 'host:port' (IPv6 as '[::1]:26379'), ports from 1 to 65535"

/** What `name` takes with sentinels, in words. */
export const SENTINEL_NAME_RULE = "the name Sentinel monitors the primary under (its 'sentinel monitor <name> ...' line), with sentinels"

/** `host:port` → { host, port }, or undefined when it is not one. */
function parseAddress (address: unknown): { host: string, port: number } | undefined {
  if (typeof address !== 'string') return undefined
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):([0-9]{1,5})$/.exec(address)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { host: (match[1] ?? match[2]) as string, port }
}

/** The sentinels' addresses for ioredis, or undefined when `list` is not `SENTINELS_RULE`. */
export function parseSentinels (list: unknown): Array<{ host: string, port: number }> | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined
  const parsed = list.map(parseAddress)
  return parsed.every((address) => address !== undefined) ? parsed as Array<{ host: string, port: number }> : undefined
}

/** A list of sentinel addresses as settings.ts checks it. */
export function isSentinelList (list: unknown): boolean {
  return parseSentinels(list) !== undefined
}

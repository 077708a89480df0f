// `host:port` lists (Sentinel's addresses, a cluster's nodes), checked before
// ioredis sees them: it would retry a malformed address for ever instead of
// saying so.

export interface Address { host: string, port: number }

/** What `parseAddresses` takes, in words. */
export const ADDRESSES_RULE = "a non-empty list of 'host:port' (IPv6 as '[::1]:26379'), ports from 1 to 65535"

/** `host:port` (`[::1]:7000` for IPv6) → { host, port }, or undefined when it is not one. */
export function parseAddress (text: unknown): Address | undefined {
  if (typeof text !== 'string') return undefined
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):([0-9]{1,5})$/.exec(text)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { host: (match[1] ?? match[2]) as string, port }
}

/** The addresses of `list`, or undefined when it is not ADDRESSES_RULE. */
export function parseAddresses (list: unknown): Address[] | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined
  const parsed = list.map(parseAddress)
  return parsed.every((address) => address !== undefined) ? parsed as Address[] : undefined
}

/** Whether `list` is ADDRESSES_RULE, as settings.ts checks it. */
export function isAddressList (list: unknown): boolean {
  return parseAddresses(list) !== undefined
}

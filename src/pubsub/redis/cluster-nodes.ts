// The Redis Cluster engine's `nodes`, checked before ioredis sees them (as
// url.ts checks a Redis URL): ioredis would take a malformed entry for a
// host and retry it for ever.
import type { ClusterNode } from 'ioredis'

/** What `nodes` takes, in words. */
export const CLUSTER_NODES_RULE = 'a non-empty list of host:port, the port from 1 to 65535'

/** A `host:port` entry of `nodes`, parsed; undefined when it is not one. */
export function parseClusterNode (text: unknown): ClusterNode | undefined {
  if (typeof text !== 'string') return undefined
  const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$/.exec(text)
  if (match === null) return undefined
  const port = Number(match[2])
  if (port < 1 || port > 65535) return undefined
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port }
}

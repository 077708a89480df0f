import { readFileSync } from 'node:fs'

// Every WebSocket connection and SSE stream is a file descriptor, so the
// process's open-files limit (`ulimit -n`) bounds how many it can hold.
// Node has no getrlimit; on Linux /proc/self/limits says it. Node raises its
// own soft limit to the hard limit at startup, so the soft limit read here is
// what the process really has.

/** Descriptors left for everything but clients: Node's own, Redis, HTTP keep-alive requests, static files. */
export const FD_MARGIN = 500

/** maxConnections where the limit cannot be read (not Linux). */
export const FALLBACK_CONNECTIONS = 10_000

/** The soft "Max open files" of /proc/PID/limits text; undefined without one (or `unlimited`). */
export function parseOpenFilesLimit (limits: string): number | undefined {
  const soft = /^Max open files\s+(\d+)\s/m.exec(limits)?.[1]
  return soft === undefined ? undefined : Number(soft)
}

/** This process's open-files soft limit; undefined where it cannot be read. */
export function openFilesLimit (platform: NodeJS.Platform = process.platform, path = '/proc/self/limits'): number | undefined {
  if (platform !== 'linux') return undefined
  try {
    return parseOpenFilesLimit(readFileSync(path, 'utf8'))
  } catch {
    return undefined
  }
}

/**
 * The connections a process with `limit` open files holds: the limit less
 * FD_MARGIN (less half of it, for a limit under 1,000); FALLBACK_CONNECTIONS
 * when the limit is unknown.
 */
export function connectionsWithin (limit: number | undefined): number {
  if (limit === undefined) return FALLBACK_CONNECTIONS
  return Math.max(1, limit - Math.min(FD_MARGIN, Math.floor(limit / 2)))
}

/** What the startup warning says when `maxConnections` is more than the open-files limit holds; undefined when it fits, or the limit is unknown. */
export function overLimit (maxConnections: number, limit: number | undefined): { openFilesLimit: number, holds: number } | undefined {
  if (limit === undefined) return undefined
  const holds = connectionsWithin(limit)
  return maxConnections > holds ? { openFilesLimit: limit, holds } : undefined
}

import { PUBSUB_ERR_OPTION } from '../protocol/errors.js'

// Which browser origins may open a WebSocket: the rule the plugin's
// `allowedOrigins` option, the standalone server's ALLOWED_ORIGINS and the
// upgrade check of routes/ws.ts share, so that what configures also admits.

export const ORIGINS_RULE = "origins such as 'https://app.example.com' (no path, no wildcard subdomain), or '*'"

/**
 * Origins as browsers send them (scheme://host[:port], lowercase, default
 * port left out), so that a configured 'https://App.example.com/' matches.
 * `null` (sandboxed and file: documents) is refused: it would admit any site.
 */
export function normalizeOrigins (origins: unknown): string[] {
  if (origins === undefined) return []
  const invalid = (): never => {
    throw new PUBSUB_ERR_OPTION('allowedOrigins', origins, ORIGINS_RULE)
  }
  if (!Array.isArray(origins)) return invalid()
  return origins.map((origin: unknown) => {
    if (origin === '*') return origin
    if (typeof origin !== 'string' || origin === 'null') return invalid()
    try {
      const url = new URL(origin)
      // A '*' in a host would be kept literally and never match: no wildcard subdomains.
      if (url.pathname !== '/' || url.search !== '' || url.origin === 'null' || url.hostname.includes('*')) return invalid()
      return url.origin
    } catch {
      return invalid()
    }
  })
}

/** Whether `origins` pass normalizeOrigins: the check of a setting that configures them. */
export function isOriginList (origins: unknown): boolean {
  try {
    normalizeOrigins(origins)
    return true
  } catch {
    return false
  }
}

/** Whether a browser's Origin header names the host it connects to (the page is the server's own). */
export function sameHost (origin: string, host: string | undefined): boolean {
  try {
    const url = new URL(origin)
    // A browser sends the serialized origin, nothing more.
    return url.origin === origin && url.host === host
  } catch {
    return false
  }
}

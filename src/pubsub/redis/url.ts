// Checked before ioredis sees a URL: on a malformed one it throws Node's URL
// error, which carries the whole URL (password included) into the logs, and
// on a path that is not a number it sends SELECT NaN.

/** What `isRedisUrl` takes, in words. */
export const REDIS_URL_RULE = 'a redis:// or rediss:// URL with a host, a port up to 65535 and at most a database number as its path'

/** A URL ioredis can connect with: redis: or rediss:, a host, a valid port, and no path but `/<db>`. */
export function isRedisUrl (url: unknown): boolean {
  if (typeof url !== 'string') return false
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  return (parsed.protocol === 'redis:' || parsed.protocol === 'rediss:') && parsed.hostname !== '' && /^(\/[0-9]*)?$/.test(parsed.pathname)
}

// The server a `pub` or `sub` talks to: its base URL as typed (`--url`,
// `PUBSUB_URL`), and the endpoints under it.

/** What `--url` takes, for its error message and the usage. */
export const URL_RULE = "the server's base URL with its mount prefix, such as http://127.0.0.1:8080/realtime (http:// is assumed)"

/**
 * `raw` as an http(s) base URL without a trailing slash, or undefined when
 * it is not one. Without a scheme, `localhost:8080/realtime` is read as
 * http:// (WHATWG URL would take `localhost:` for the scheme). Credentials,
 * a query or a fragment have no place in a base URL: refused rather than
 * quietly dropped.
 */
export function baseUrl (raw: string): URL | undefined {
  const text = /^[a-z][a-z\d+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`
  if (!URL.canParse(text)) return undefined
  const url = new URL(text)
  if (!['http:', 'https:'].includes(url.protocol) || `${url.username}${url.password}${url.search}${url.hash}` !== '') return undefined
  return url
}

/** The base URL as messages show it: http://host:8080/realtime, no trailing slash. */
export function baseText (base: URL): string {
  return `${base.origin}${base.pathname.replace(/\/+$/, '')}`
}

/** `path` under the base URL: `ws` → http://host:8080/realtime/ws. */
export function endpoint (base: URL, path: string): string {
  return `${baseText(base)}/${path}`
}

/** The same URL with ws:// for http://, wss:// for https://. */
export function webSocketUrl (base: URL): string {
  return endpoint(base, 'ws').replace(/^http/, 'ws')
}

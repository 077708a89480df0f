// What `pub` and `sub` share: their command line, read from flags, then the
// PUBSUB_URL and PUBSUB_TOKEN environment variables, then defaults; and how
// they say that it is wrong.
import { parseArgs } from 'node:util'
import { MAX_INT32 } from '../protocol/limits.js'
import { baseUrl, URL_RULE } from './cli-url.js'
import { parseDuration } from './duration.js'

export const DEFAULT_URL = 'http://127.0.0.1:8080'

/** The lines of --url and --token in both usages. */
export const CONNECTION_OPTIONS = `  --url URL        the server's base URL, with its mount prefix (http:// is
                   assumed); default $PUBSUB_URL, else ${DEFAULT_URL}
  --token TOKEN    a JWT (or for pub, the publish API key) when the server has
                   auth on; default $PUBSUB_TOKEN`

/**
 * A mistake on the command line: the line, then `usage` when given (a flag
 * or argument out of place; a bad value needs no usage), and exit 2.
 */
export function fail (message: string, usage?: string): never {
  process.stderr.write(`fastify-pubsub: ${message}\n${usage === undefined ? '' : `\n${usage}`}`)
  process.exit(2)
}

type Values = Record<string, string | boolean | undefined>

/** The flags and positionals of `command`; `key` only for pub. Fails with `usage`. */
export function parseCommandLine (command: 'pub' | 'sub', args: string[], usage: string): { values: Values, positionals: string[] } {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        url: { type: 'string' },
        token: { type: 'string' },
        timeout: { type: 'string' },
        ...(command === 'pub' ? { key: { type: 'string' } } : {})
      }
    })
  } catch (err) {
    fail(parseError(err), usage)
  }
}

/** node:util's message, without its advice about '--': that is for positionals, and ours never start with '-'. */
export function parseError (err: unknown): string {
  return (err as Error).message.replace(/^Unknown option '([^']+)'.*$/s, "unknown option '$1'")
}

export interface Connection {
  base: URL
  token: string | undefined
  /** ms; undefined: no bound. */
  timeout: number | undefined
}

/** --url, --token and --timeout, each from its flag, else the environment, else the default. */
export function connection (values: Values, env: NodeJS.ProcessEnv, defaultTimeout?: number): Connection {
  const raw = (values.url ?? nonEmpty(env.PUBSUB_URL) ?? DEFAULT_URL) as string
  const base = baseUrl(raw)
  if (base === undefined) fail(`--url '${raw}' is not ${URL_RULE}`)
  const timeout = values.timeout === undefined ? defaultTimeout : duration(values.timeout as string)
  return { base, token: (values.token ?? nonEmpty(env.PUBSUB_TOKEN)) as string | undefined, timeout }
}

/** --timeout as ms, read like the server's durations (settings.ts). */
function duration (raw: string): number {
  const ms = parseDuration(raw, false)
  if (ms === undefined || !Number.isInteger(ms) || ms < 1 || ms > MAX_INT32) {
    fail(`--timeout '${raw}' is not a duration such as '250ms', '30s' or '5m' (a bare number is ms), from 1ms to ${MAX_INT32 / 86_400_000 | 0} days`)
  }
  return ms
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === '' ? undefined : value
}

/** Why a server answered 401: for want of a token, or for the one we gave. */
export function tokenProblem (hasToken: boolean): string {
  return hasToken
    ? 'the server refused the token (expired? signed with another key?): check --token or PUBSUB_TOKEN'
    : 'this server needs a token: pass --token or set PUBSUB_TOKEN'
}

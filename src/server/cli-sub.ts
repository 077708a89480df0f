// `fastify-pubsub sub <topic-or-pattern>`: every message as one JSON line on
// stdout until interrupted. On stderr, one line each time the connection
// changes (waiting for the server, lost, back), and the reason when retrying
// cannot help: no pubsub WebSocket at --url, or no good token.
import WebSocket from 'ws'
import { PubsubClient, type WebSocketConstructor } from '../client/index.js'
import { CONNECTION_OPTIONS, connection, fail, parseCommandLine, tokenProblem } from './cli-args.js'
import { webSocketUrl } from './cli-url.js'
import { formatDuration } from './duration.js'

export const SUB_USAGE = `Usage: fastify-pubsub sub <topic-or-pattern> [options]

Prints every message as one JSON line until interrupted (Ctrl-C). While the
server is down, or after it drops the connection, it keeps trying and says
so on stderr, once; it gives up (exit status 1) when the server refuses the
token, or there is no pubsub WebSocket at --url.

${CONNECTION_OPTIONS}
  --timeout TIME   how long to wait for the first connection before giving up
                   (250ms, 30s, 5m; a bare number is ms); by default it waits
  -h, --help       this help

Exit status: 0 interrupted, 1 refused or given up (the reason on stderr),
2 a mistake on the command line.
`

/** An upgrade the server answered with plain HTTP instead of 101. */
interface Refusal {
  status: number
  /** The `message` of the server's JSON error, else its body. */
  reason: string
}

export async function sub (args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommandLine('sub', args, SUB_USAGE)
  if (values.help === true) {
    process.stdout.write(SUB_USAGE)
    return
  }
  if (positionals.length !== 1) fail('sub takes one topic or pattern', SUB_USAGE)
  const pattern = positionals[0] as string
  const { base, token, timeout } = connection(values, env)
  // Shown in every line: without the token, which the client adds as ?token=.
  const url = webSocketUrl(base)
  let refusal: Refusal | undefined
  const client = new PubsubClient({ url, token, WebSocket: refusalTelling((refused) => { refusal = refused }) })

  const say = (line: string): void => { process.stderr.write(`fastify-pubsub: ${line}\n`) }
  let stopping = false
  const stop = (exitCode: number): void => {
    stopping = true
    process.exitCode = exitCode
    clearTimeout(giveUp)
    void client.close()
  }
  // What the last failed attempt said (ECONNREFUSED, …), for the lines below.
  let failure = 'no answer yet'
  const giveUp = timeout === undefined
    ? undefined
    : setTimeout(() => {
      say(`no connection to ${url} within ${formatDuration(timeout)} (--timeout): ${failure}`)
      stop(1)
    }, timeout)

  // Lines are printed on a change of state, not on every attempt.
  let state: 'connecting' | 'open' | 'waiting' = 'connecting'
  let opened = false
  client.on('open', () => { opened = true })
  client.on('welcome', () => {
    clearTimeout(giveUp)
    if (state === 'waiting') say(`connected to ${url}`)
    state = 'open'
  })
  client.on('error', (error) => {
    if (error.code === 'CONNECTION') failure = error.message
    else say(`${error.code}: ${error.message}`)
  })
  client.on('close', ({ code }) => {
    const refused = refusal
    const openedOnly = opened && state !== 'open'
    refusal = undefined
    opened = false
    if (stopping) return
    if (refused !== undefined && refused.status !== 429 && refused.status < 500) {
      say(refused.status === 401 || refused.status === 403
        ? `${tokenProblem(token !== undefined)} (HTTP ${refused.status} from ${url}${token === undefined ? '' : `: ${refused.reason}`})`
        : `no pubsub WebSocket at ${url} (HTTP ${refused.status}): check --url and the server's prefix`)
      stop(1)
      return
    }
    if (openedOnly) {
      say(`${url} accepted a WebSocket but closed it (code ${code}) before the welcome: is --url a fastify-pubsub server?`)
      stop(1)
      return
    }
    if (state === 'open') say(`connection to ${url} lost (code ${code}): reconnecting`)
    else if (state === 'connecting') say(`${refused === undefined ? failure : `${url} answered HTTP ${refused.status}: ${refused.reason}`}: retrying until it answers`)
    state = 'waiting'
  })

  client.subscribe(pattern, (message) => { process.stdout.write(`${JSON.stringify(message)}\n`) })
    // Refused (the error event said why): nothing will come.
    .ready.catch(() => { stop(1) })
  process.once('SIGINT', () => { stop(0) })
  process.once('SIGTERM', () => { stop(0) })
  await client.connect().catch(() => {})
}

/**
 * `ws`, telling what a browser's WebSocket hides: the HTTP status (and
 * message) of an upgrade refused with 401 or 404. Without a listener for
 * `unexpected-response`, ws fails with 'Unexpected server response: 401'
 * and a close like any network error's; with one, closing is ours to do,
 * once the body is read.
 */
function refusalTelling (onRefusal: (refusal: Refusal) => void): WebSocketConstructor {
  return class RefusalTellingWebSocket extends WebSocket {
    constructor (url: string) {
      super(url)
      this.once('unexpected-response', (_request, response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => { body += chunk })
        // 'close' comes after the end, or once the server cut it short.
        response.once('close', () => {
          onRefusal({ status: response.statusCode as number, reason: reasonOf(body) })
          this.terminate()
        })
      })
    }
  }
}

/** The `message` of a Fastify error body, or the start of whatever else the body is. */
function reasonOf (body: string): string {
  try {
    const { message } = JSON.parse(body) as { message?: unknown }
    if (typeof message === 'string') return message
  } catch {}
  return body.replace(/\s+/g, ' ').trim().slice(0, 200)
}

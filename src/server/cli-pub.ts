// `fastify-pubsub pub <topic> <message>`: one POST /publish/:topic, the ack
// as one JSON line on stdout, the server's refusal on stderr.
import { readFile } from 'node:fs/promises'
import { CONNECTION_OPTIONS, connection, fail, parseCommandLine, tokenProblem } from './cli-args.js'
import { baseText, endpoint } from './cli-url.js'
import { formatDuration } from './duration.js'

const DEFAULT_TIMEOUT = 10_000

export const PUB_USAGE = `Usage: fastify-pubsub pub <topic> <message> [options]

Publishes one message and prints the server's ack as one JSON line.

  <message>        JSON: '{"score":"3-1"}', or '"text"' for a string;
                   - reads it from stdin, @file from a file (as curl -d does)
${CONNECTION_OPTIONS}
  --key KEY        an idempotency key: run again with the same key (after a
                   timeout, say), it publishes nothing twice and the ack says
                   "duplicate":true
  --timeout TIME   how long to wait for the server's answer (250ms, 30s, 5m;
                   a bare number is ms); default ${formatDuration(DEFAULT_TIMEOUT)}
  -h, --help       this help

Exit status: 0 published, 1 refused or no answer (the reason on stderr),
2 a mistake on the command line.
`

export async function pub (args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommandLine('pub', args, PUB_USAGE)
  if (values.help === true) {
    process.stdout.write(PUB_USAGE)
    return
  }
  if (positionals.length !== 2) fail('pub takes a topic and a message', PUB_USAGE)
  const [topic, source] = positionals as [string, string]
  const { base, token, timeout } = connection(values, env, DEFAULT_TIMEOUT)
  const body = await readMessage(source)
  try {
    JSON.parse(body)
  } catch {
    fail(`the message is not JSON: ${body.slice(0, 100)} (a string goes in quotes: '"text"')`)
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (typeof values.key === 'string') headers['idempotency-key'] = values.key
  let response: Response
  let text: string
  try {
    // Encoded: `news?x=1` is a topic the server refuses, not `news` with a query.
    response = await fetch(endpoint(base, `publish/${encodeURIComponent(topic)}`), { method: 'POST', headers, body, signal: AbortSignal.timeout(timeout as number) })
    text = await response.text()
  } catch (err) {
    // fetch fails with 'fetch failed'; the reason (ECONNREFUSED, …) is its cause.
    const reason = (err as Error).name === 'TimeoutError'
      ? `no answer within ${formatDuration(timeout as number)} (--timeout)`
      : ((err as Error).cause as Error).message
    process.stderr.write(`fastify-pubsub: cannot publish to ${baseText(base)}: ${reason}\n`)
    process.exitCode = 1
    return
  }
  if (response.ok) {
    process.stdout.write(`${text}\n`)
    return
  }
  process.stderr.write(`${text}\n`)
  const hint = HINTS[response.status]?.(token !== undefined, topic, baseText(base))
  if (hint !== undefined) process.stderr.write(`fastify-pubsub: ${hint}\n`)
  process.exitCode = 1
}

/** A line after the server's error body, where the body alone does not say what to do. */
const HINTS: Record<number, (hasToken: boolean, topic: string, base: string) => string> = {
  401: tokenProblem,
  403: (_, topic) => `the token does not grant publishing to '${topic}'`,
  404: (_, __, base) => `no publish route under ${base}: check --url and the server's prefix`
}

/** The message argument: JSON itself, `-` for stdin, `@path` for a file. */
async function readMessage (source: string): Promise<string> {
  if (source === '-') {
    let text = ''
    process.stdin.setEncoding('utf8')
    for await (const chunk of process.stdin) text += chunk as string
    return text
  }
  if (!source.startsWith('@')) return source
  try {
    return await readFile(source.slice(1), 'utf8')
  } catch (err) {
    fail(`cannot read the message: ${(err as Error).message}`)
  }
}

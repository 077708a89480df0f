#!/usr/bin/env node
// `fastify-pubsub`: the server (what `npm start` runs), and `pub`/`sub` for
// terminals and shell pipelines. Flags for the server override the
// environment variables of the same settings (docs/configuration.md).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { SERVER_FLAGS } from './config.js'
import { CONFIG_FILE, defaultText, envName, flagName, SETTINGS, type SettingKey } from './settings.js'

const SERVER_USAGE = (Object.keys(SETTINGS) as SettingKey[])
  // The file's alone: no flag.
  .filter((key) => SETTINGS[key].fileOnly !== true)
  .map((key) => `  --${flagName(key)} <${defaultText(key)}>`.padEnd(36) + envName(key))
  .join('\n')

const USAGE = `Usage:
  fastify-pubsub [--${CONFIG_FILE.flag} file.json] [--setting value ...]
      run the server; each setting is read from its flag, else its environment
      variable, else the JSON file, else its default (docs/configuration.md):
${SERVER_USAGE}
  fastify-pubsub pub <topic> <json> [--url http://127.0.0.1:8080] [--token JWT] [--key KEY]
      publish one message; prints the ack as one JSON line. With --key, running
      it again (after a timeout, say) publishes nothing twice: the ack says
      "duplicate":true
  fastify-pubsub sub <topic-or-pattern> [--url http://127.0.0.1:8080] [--token JWT]
      print every message as one JSON line until interrupted
  --url is the server's base URL (with the mount prefix, if any)
  fastify-pubsub --help | --version
`

function fail (message: string): never {
  process.stderr.write(`fastify-pubsub: ${message}\n\n${USAGE}`)
  process.exit(2)
}

let parsed: ReturnType<typeof parse>
function parse (): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  return parseArgs({
    allowPositionals: true,
    options: {
      help: { type: 'boolean' },
      version: { type: 'boolean' },
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      token: { type: 'string' },
      key: { type: 'string' },
      ...SERVER_FLAGS
    }
  })
}
try {
  parsed = parse()
} catch (err) {
  fail((err as Error).message)
}
const { values, positionals } = parsed
const [command, ...args] = positionals

if (values.help === true) {
  process.stdout.write(USAGE)
} else if (values.version === true) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  process.stdout.write(`${pkg.version}\n`)
} else if (command === 'pub' || command === 'sub') {
  // A server flag here is a mistake (--port for --url, say): refused, not ignored.
  const serverFlag = Object.keys(SERVER_FLAGS).find((flag) => values[flag] !== undefined)
  if (serverFlag !== undefined) fail(`${command} takes --url and --token, not --${serverFlag}`)
  if (command === 'sub' && values.key !== undefined) fail('--key is for pub')
  await (command === 'pub' ? publish(args) : subscribe(args))
} else if (command === undefined) {
  // The server reads its flags from process.argv itself (config.ts).
  await import('./main.js')
} else {
  fail(`unknown command '${command}'`)
}

async function publish ([topic, json, ...rest]: string[]): Promise<void> {
  if (topic === undefined || json === undefined || rest.length > 0) fail('pub takes a topic and a JSON message')
  try {
    JSON.parse(json)
  } catch {
    fail(`the message is not JSON: ${json.slice(0, 100)} (a string goes in quotes: '"text"')`)
  }
  const base = String(values.url).replace(/\/$/, '')
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (typeof values.token === 'string') headers.authorization = `Bearer ${values.token}`
  if (typeof values.key === 'string') headers['idempotency-key'] = values.key
  let response: Response
  try {
    response = await fetch(`${base}/publish/${topic}`, { method: 'POST', headers, body: json })
  } catch (err) {
    // fetch fails with 'fetch failed'; the reason (ECONNREFUSED, …) is its cause.
    process.stderr.write(`fastify-pubsub: cannot reach ${base}: ${((err as Error).cause as Error).message}\n`)
    process.exitCode = 1
    return
  }
  const text = await response.text()
  if (response.ok) {
    process.stdout.write(`${text}\n`)
  } else {
    process.stderr.write(`${text}\n`)
    process.exitCode = 1
  }
}

async function subscribe ([pattern, ...rest]: string[]): Promise<void> {
  if (pattern === undefined || rest.length > 0) fail('sub takes one topic or pattern')
  const [{ PubsubClient }, { default: WebSocket }] = await Promise.all([import('../client/index.js'), import('ws')])
  const url = `${String(values.url).replace(/\/$/, '').replace(/^http/, 'ws')}/ws`
  const client = new PubsubClient({ url, WebSocket, token: values.token as string | undefined })
  client.on('error', (error) => { process.stderr.write(`${error.code}: ${error.message}\n`) })
  client.subscribe(pattern, (message) => { process.stdout.write(`${JSON.stringify(message)}\n`) })
    .ready.catch(() => {
      // Refused (the error event said why): nothing will come.
      process.exitCode = 1
      void client.close()
    })
  process.once('SIGINT', () => { void client.close() })
  process.once('SIGTERM', () => { void client.close() })
  await client.connect().catch(() => {})
}

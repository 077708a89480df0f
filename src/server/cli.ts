#!/usr/bin/env node
// `fastify-pubsub`: the server (what `npm start` runs), and `pub`/`sub` for
// terminals and shell pipelines, each in a module of its own (cli-pub.ts,
// cli-sub.ts). Flags for the server override the environment variables of
// the same settings (docs/configuration.md).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { fail, parseError } from './cli-args.js'

// The command comes first: `fastify-pubsub pub --help` is pub's help. Each
// loads only its own modules: pub and sub start without the server's.
const [command, ...args] = process.argv.slice(2)
if (command === 'pub') {
  await (await import('./cli-pub.js')).pub(args, process.env)
} else if (command === 'sub') {
  await (await import('./cli-sub.js')).sub(args, process.env)
} else {
  await server()
}

async function server (): Promise<void> {
  const [{ serverHelp, USAGE }, { SERVER_FLAGS }] = await Promise.all([import('./cli-help.js'), import('./config.js')])
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({ allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' }, ...SERVER_FLAGS } }))
  } catch (err) {
    fail(parseError(err), USAGE)
  }
  if (values.help === true) {
    process.stdout.write(serverHelp())
  } else if (values.version === true) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    process.stdout.write(`${pkg.version}\n`)
  } else if (positionals.length > 0) {
    fail(`unknown command '${positionals[0] as string}'`, USAGE)
  } else {
    // The server reads its flags from process.argv itself (config.ts).
    await import('./main.js')
  }
}

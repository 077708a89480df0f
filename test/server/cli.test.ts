// The server's command line: help, usage errors, and where settings come from.
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { envName, flagName, SETTINGS, type SettingKey } from '../../src/server/settings.js'
import { finish, run } from './cli-process.js'
import { logLine } from './server-process.js'

t.test('--help: the server\'s flags with their meaning; pub and sub have their own; --version', async (t) => {
  const [help, pub, sub, version] = await Promise.all([finish(['--help']), finish(['pub', '--help']), finish(['sub', '-h']), finish(['--version'])])
  t.equal(help.code, 0)
  t.match(help.out, /^Usage:\n {2}fastify-pubsub \[--config file.json\][\s\S]*fastify-pubsub pub <topic> <message>[\s\S]*fastify-pubsub sub/)
  t.match(help.out, /^Redis engine \(docs\/scaling.md\):$/m, 'grouped as docs/configuration.md is')
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    // A file-only setting (namespaces) has no flag to list.
    if (SETTINGS[key].fileOnly === true) {
      t.notMatch(help.out, `--${flagName(key)}`, `--help has no --${flagName(key)}`)
      continue
    }
    // The description's first words on the next line (the rest may wrap).
    const words = SETTINGS[key].description.split(' ').slice(0, 3).join(' ').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    t.match(help.out, new RegExp(`--${flagName(key)} <.*> +${envName(key)}\n {6}${words}`), `--help lists --${flagName(key)} and what it does`)
  }
  t.ok(help.out.split('\n').every((line) => line.length <= 80), 'no line past 80 columns')
  for (const [name, result] of [['pub', pub], ['sub', sub]] as const) {
    t.equal(result.code, 0, name)
    t.match(result.out, new RegExp(`^Usage: fastify-pubsub ${name} [\\s\\S]*--url URL[\\s\\S]*PUBSUB_URL[\\s\\S]*PUBSUB_TOKEN[\\s\\S]*--timeout TIME`), `${name} --help`)
    t.notMatch(result.out, /--port/, `${name} --help is about ${name} only`)
  }
  t.match(pub.out, /- reads it from stdin, @file from a file[\s\S]*--key KEY/)
  t.equal(version.out.trim(), JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
})

t.test('a bad flag or an unknown command exits 2 with the short usage', async (t) => {
  const cases = [['--bogus'], ['frobnicate'], ['--url', 'http://h', 'sub', 't']]
  // Each is a process of its own: run them side by side.
  const results = await Promise.all(cases.map(async (args) => await finish(args)))
  results.forEach((result, i) => {
    const args = (cases[i] as string[]).join(' ')
    t.equal(result.code, 2, args)
    t.match(result.err, /^fastify-pubsub: (unknown option '--[a-z]+'|unknown command 'frobnicate')\n\nUsage:\n {2}fastify-pubsub /, args)
    t.notMatch(result.err, /--port </, `${args}: not every flag`)
  })
})

t.test('a flag beats the environment, which beats the config file', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'pubsub-cli-')), 'pubsub.json')
  writeFileSync(file, JSON.stringify({ port: 1, host: '127.0.0.1', logLevel: 'info', metrics: false, docs: false }))
  const server = run(['--config', file, '--port', '0', '--docs', 'true', '--trust-proxy', '127.0.0.1'], { PORT: '2', LOG_LEVEL: '' })
  t.teardown(() => server.child.kill('SIGKILL'))
  const listening = await logLine(server.child, (l) => String(l.msg).startsWith('Server listening at http://127.0.0.1:'))
  const url = String(listening.msg).slice('Server listening at '.length)
  t.notMatch(url, /:[12]$/, 'neither the file\'s port nor PORT')
  t.equal((await fetch(`${url}/metrics`)).status, 404, 'metrics: false from the file')
  t.equal((await fetch(`${url}/docs/json`)).status, 200, '--docs true beats the file')
  const health = await fetch(`${url}/health`, { headers: { 'x-request-id': 'probe-7' } })
  t.equal(health.headers.get('x-request-id'), 'probe-7', 'the proxy\'s request id is kept and echoed')
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  t.same(await exited, [0, null])

  writeFileSync(file, JSON.stringify({ port: 'eighty' }))
  const refused = await finish(['--config', file])
  t.equal(refused.code, 1)
  t.match(refused.err, /^fastify-pubsub: Invalid option 'port in .*pubsub.json': "eighty" \(an integer from 0 to 65535\)\n$/)
})

t.test('server flags override the environment', async (t) => {
  const server = run(['--port', '0', '--host', '127.0.0.1', '--log-level', 'info'], { PORT: '1', LOG_LEVEL: 'silent' })
  t.teardown(() => server.child.kill('SIGKILL'))
  const listening = await logLine(server.child, (l) => String(l.msg).startsWith('Server listening at http://127.0.0.1:'))
  t.notMatch(String(listening.msg), /:1$/, 'PORT=1 lost to --port 0')
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  t.same(await exited, [0, null])
})

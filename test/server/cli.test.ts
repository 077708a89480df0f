// The server's command line: help, usage errors, and where settings come from.
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { envName, flagName, SETTINGS, type SettingKey } from '../../src/server/settings.js'
import { finish, run } from './cli-process.js'
import { logLine } from './server-process.js'

t.test('--help and --version', async (t) => {
  const help = await finish(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /Usage:[\s\S]*fastify-pubsub pub <topic> <json>[\s\S]*fastify-pubsub sub/)
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    // A file-only setting (namespaces) has no flag to list.
    if (SETTINGS[key].fileOnly === true) {
      t.notMatch(help.out, `--${flagName(key)}`, `--help has no --${flagName(key)}`)
      continue
    }
    t.match(help.out, new RegExp(`--${flagName(key)} <.*> +${envName(key)}\n`), `--help lists --${flagName(key)}`)
  }
  const version = await finish(['--version'])
  t.equal(version.out.trim(), JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
})

t.test('a bad flag, an unknown command or missing arguments exit 2 with the usage', async (t) => {
  const cases = [['--bogus'], ['frobnicate'], ['pub', 'only-a-topic'], ['pub', 't', 'not json'], ['sub'], ['sub', 'a', 'b'], ['pub', 't', '1', '--port', '9999'], ['sub', 't', '--redis', 'redis://h'], ['sub', 't', '--key', 'k']]
  // Each is a process of its own: run them side by side.
  const results = await Promise.all(cases.map(async (args) => await finish(args)))
  results.forEach((result, i) => {
    const args = (cases[i] as string[]).join(' ')
    t.equal(result.code, 2, args)
    t.match(result.err, /^fastify-pubsub: .+\n\nUsage:/, args)
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

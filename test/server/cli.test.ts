// The `fastify-pubsub` command, run as a process the way a terminal runs it.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { envName, flagName, SETTINGS, type SettingKey } from '../../src/server/settings.js'
import { eventually, listen } from '../helper.js'
import { logLine } from './server-process.js'

const cli = fileURLToPath(new URL('../../src/server/cli.ts', import.meta.url))

function run (args: string[], env: Record<string, string> = {}): { child: ReturnType<typeof spawn>, out: () => string, err: () => string } {
  const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => { out += String(chunk) })
  child.stderr?.on('data', (chunk: Buffer) => { err += String(chunk) })
  return { child, out: () => out, err: () => err }
}

async function finish (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, out: string, err: string }> {
  const { child, out, err } = run(args, env)
  const [code] = await once(child, 'exit') as [number | null]
  return { code, out: out(), err: err() }
}

t.test('--help and --version', async (t) => {
  const help = await finish(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /Usage:[\s\S]*fastify-pubsub pub <topic> <json>[\s\S]*fastify-pubsub sub/)
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    t.match(help.out, new RegExp(`--${flagName(key)} <.*> +${envName(key)}\n`), `--help lists --${flagName(key)}`)
  }
  const version = await finish(['--version'])
  t.equal(version.out.trim(), JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
})

t.test('a bad flag, an unknown command or missing arguments exit 2 with the usage', async (t) => {
  for (const args of [['--bogus'], ['frobnicate'], ['pub', 'only-a-topic'], ['pub', 't', 'not json'], ['sub'], ['sub', 'a', 'b'], ['pub', 't', '1', '--port', '9999'], ['sub', 't', '--redis', 'redis://h'], ['sub', 't', '--key', 'k']]) {
    const result = await finish(args)
    t.equal(result.code, 2, args.join(' '))
    t.match(result.err, /^fastify-pubsub: .+\n\nUsage:/, args.join(' '))
  }
})

t.test('pub and sub against a running server, as JSON lines', async (t) => {
  const { app, url } = await listen(t)
  const sub = run(['sub', 'news.*', '--url', url])
  t.teardown(() => sub.child.kill('SIGKILL'))
  await eventually(async () => (await app.pubsub.topics()).patterns.length === 1, 15_000)
  const pub = await finish(['pub', 'news.sports', '{"score":"2-1"}', '--url', url])
  t.equal(pub.code, 0)
  t.match(JSON.parse(pub.out), { topic: 'news.sports', seq: 1, delivered: 1 })
  await eventually(() => sub.out().includes('\n'))
  t.match(JSON.parse(sub.out().split('\n')[0] as string), { topic: 'news.sports', data: { score: '2-1' }, seq: 1, subscription: 'news.*' })
  const exited = once(sub.child, 'exit')
  sub.child.kill('SIGINT')
  t.same(await exited, [0, null], 'SIGINT ends sub cleanly')

  const keyed = await finish(['pub', 'news.sports', '2', '--url', url, '--key', 'retry-me'])
  const repeated = await finish(['pub', 'news.sports', '2', '--url', url, '--key', 'retry-me'])
  t.match(JSON.parse(keyed.out), { seq: 2 })
  t.same(JSON.parse(repeated.out), { ...JSON.parse(keyed.out), duplicate: true }, 'run again with the same --key: published once')

  const refused = await finish(['pub', 'news.*', '1', '--url', url, '--token', 'ignored-when-auth-is-off'])
  t.equal(refused.code, 1)
  t.match(JSON.parse(refused.err), { statusCode: 400, code: 'PUBSUB_ERR_INVALID_TOPIC' })
  const badPattern = await finish(['sub', 'a..b', '--url', url])
  t.equal(badPattern.code, 1)
  t.match(badPattern.err, /INVALID_TOPIC/)
  await app.close()
  const away = await finish(['pub', 't', '1', '--url', `${url}/`])
  t.equal(away.code, 1)
  t.match(away.err, /cannot reach http:\/\/127.0.0.1:\d+: .*ECONNREFUSED/)
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

t.test('--log-pretty true prints pino-pretty lines instead of JSON', async (t) => {
  const server = run(['--port', '0', '--log-pretty', 'true'], { NO_COLOR: '1' })
  t.teardown(() => server.child.kill('SIGKILL'))
  await eventually(() => server.out().includes('Server listening at'), 15_000)
  t.match(server.out(), /^\[[\d:.]+\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+/m)
  t.throws(() => JSON.parse(server.out().split('\n')[0] as string), 'not JSON')
})

// script(1) (util-linux) runs the server on a real pseudo-terminal.
const hasScript = spawnSync('script', ['--version']).status === 0

t.test('on a terminal, logs are pretty by themselves', { skip: hasScript ? false : 'script(1) is missing (util-linux)' }, async (t) => {
  const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`
  const command = [process.execPath, ...process.execArgv, cli, '--port', '0'].map(quote).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '1', LOG_PRETTY: '' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  // The whole group: script and the server under it.
  t.teardown(() => { try { process.kill(-(child.pid as number), 'SIGKILL') } catch {} })
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => { out += String(chunk) })
  await eventually(() => out.includes('Server listening at'), 15_000)
  t.match(out, /\[[\d:.]+\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+/)
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

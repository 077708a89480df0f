// The server's logs as a person reads them: pretty on request, and on a terminal.
import { spawn, spawnSync } from 'node:child_process'
import t from 'tap'
import { eventually } from '../helper.js'
import { cli, run } from './cli-process.js'

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

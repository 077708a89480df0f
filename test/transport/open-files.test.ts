import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { connectWelcomed, rawUpgrade, WAIT_MS, type Client } from '../helper.js'
import { logLine } from '../server/server-process.js'
import { connectionsWithin, FALLBACK_CONNECTIONS, FD_MARGIN, openFilesLimit, overLimit, parseOpenFilesLimit } from '../../src/transport/open-files.js'

const linux = process.platform === 'linux'

t.test('the soft limit is read from /proc/PID/limits', async (t) => {
  const text = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             96363                96363                processes ',
    'Max open files            1024                 524288               files     ',
    'Max locked memory         8388608              8388608              bytes     '
  ].join('\n')
  t.equal(parseOpenFilesLimit(text), 1024, 'the soft limit, not the hard one')
  t.equal(parseOpenFilesLimit('Max open files            unlimited            unlimited            files'), undefined)
  t.equal(parseOpenFilesLimit(''), undefined)
  t.equal(openFilesLimit('darwin'), undefined, 'elsewhere than Linux: unknown')
  t.equal(openFilesLimit('linux', '/nonexistent/limits'), undefined, 'unreadable: unknown')
})

t.test("this process's limit is what a shell it starts reports as ulimit -n", { skip: !linux && 'Linux only' }, async (t) => {
  const shell = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }))
  t.equal(openFilesLimit(), shell)
  t.equal(parseOpenFilesLimit(readFileSync(`/proc/${process.pid}/limits`, 'utf8')), shell)
})

t.test('connections held: the limit less the margin', async (t) => {
  t.equal(connectionsWithin(undefined), FALLBACK_CONNECTIONS)
  t.equal(connectionsWithin(20_000), 20_000 - FD_MARGIN)
  t.equal(connectionsWithin(1_048_576), 1_048_576 - FD_MARGIN)
  t.equal(connectionsWithin(1024), 524)
  t.equal(connectionsWithin(600), 300, 'a small limit keeps half for the rest')
  t.equal(connectionsWithin(1), 1)
  t.same(overLimit(19_501, 20_000), { openFilesLimit: 20_000, holds: 19_500 })
  t.equal(overLimit(19_500, 20_000), undefined)
  t.equal(overLimit(1e9, undefined), undefined, 'nothing to say where the limit is unknown')
})

const entry = fileURLToPath(new URL('../../src/server/main.ts', import.meta.url))

/** The server entry, as in server-process.ts, under `ulimit -n files` (soft and hard: Node cannot raise it). */
function startLimited (files: number, env: Record<string, string>): ReturnType<typeof spawn> {
  const child = spawn('sh', ['-c', `ulimit -n ${files} && exec "$0" "$@"`, process.execPath, ...process.execArgv, entry], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 12 * WAIT_MS)
  child.on('exit', () => clearTimeout(timer))
  return child
}

t.test('under ulimit -n 1000 the server holds 500 clients and answers the next 503', { skip: !linux && 'Linux only' }, async (t) => {
  const child = startLimited(1000, { LOG_LEVEL: 'info' })
  t.teardown(() => child.kill('SIGKILL'))
  const warnings: unknown[] = []
  const listening = await logLine(child, (l) => {
    if (l.level === 40) warnings.push(l)
    return String(l.msg).startsWith('Server listening at ')
  })
  const url = String(listening.msg).replace('Server listening at ', '')
  const clients: Client[] = []
  for (let i = 0; i < 500; i += 50) clients.push(...await Promise.all(Array.from({ length: 50 }, async () => await connectWelcomed(t, url))))
  t.equal(clients.length, 500)
  const refused = await rawUpgrade(url)
  t.match(refused.status, /^HTTP\/1\.1 503 /, 'the 501st is refused by the limit, not cut for want of a descriptor')
  t.match(JSON.parse(refused.body), { message: /connection limit reached \(500\)/ })
  refused.socket.destroy()
  t.same(warnings, [], 'the derived default warns about nothing')
})

t.test('a maxConnections above what ulimit -n holds is warned about once, at startup', { skip: !linux && 'Linux only' }, async (t) => {
  const child = startLimited(1000, { LOG_LEVEL: 'info', MAX_CONNECTIONS: '5000' })
  t.teardown(() => child.kill('SIGKILL'))
  const warnings: Array<Record<string, unknown>> = []
  await logLine(child, (l) => {
    if (l.level === 40) warnings.push(l)
    return String(l.msg).startsWith('Server listening at ')
  })
  t.match(warnings, [{ maxConnections: 5000, openFilesLimit: 1000, holds: 500, msg: /raise ulimit -n, or lower maxConnections/ }])
  t.equal(warnings.length, 1)
})

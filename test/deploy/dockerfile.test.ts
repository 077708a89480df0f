// The Dockerfile cannot be built here (no Docker in CI): it is linted, its
// shape is checked, and its HEALTHCHECK command is run against a server.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { validate } from 'dockerfile-utils'
import t from 'tap'
import Fastify from 'fastify'
import fastifyPubsub from '../../src/index.js'
import { listen } from '../helper.js'
import { selfSignedCertificate } from './nginx.js'
import { ROOT } from './project.js'

const run = promisify(execFile)
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
/** Instructions with their continuation lines joined, comments left out. */
const instructions = dockerfile.replace(/\\\n\s*/g, '').split('\n').filter((line) => line !== '' && !line.startsWith('#'))
const runtime = instructions.slice(instructions.findLastIndex((line) => line.startsWith('FROM ')))
const argument = (name: string): string[] => runtime.filter((line) => line.startsWith(`${name} `)).map((line) => line.slice(name.length + 1))

t.test('dockerfile-utils finds no problem', async (t) => {
  t.same(validate(dockerfile).map((d) => `${d.range.start.line + 1}: ${d.message}`), [])
})

t.test('the runtime stage: production dependencies, dist/ from the build stage, a non-root user, exec-form CMD', async (t) => {
  t.equal(instructions.filter((line) => line.startsWith('FROM ')).length, 2, 'two stages')
  t.match(argument('RUN').join('\n'), /npm ci --omit=dev/)
  t.same(argument('COPY').filter((line) => line.startsWith('--from=')), ['--from=build /app/dist ./dist'])
  t.same(argument('USER'), ['node'])
  t.match(argument('ENV')[0], /HOST=0\.0\.0\.0 PORT=8080/)
  const cmd = JSON.parse(argument('CMD')[0] as string) as string[]
  t.same(cmd, ['node', 'dist/server/cli.js'], 'node itself gets SIGTERM')
  t.ok(existsSync(join(ROOT, 'src/server/cli.ts')), 'the entry dist/server/cli.js is built from')
})

t.test('what the stages copy exists, and .dockerignore lets it through', async (t) => {
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((line) => line.startsWith('!')).map((line) => line.slice(1))
  const copied = instructions.filter((line) => line.startsWith('COPY ') && !line.includes('--from=')).flatMap((line) => line.split(/\s+/).slice(1, -1))
  for (const path of new Set(copied)) {
    t.ok(existsSync(join(ROOT, path)), `${path} exists`)
    t.ok(ignore.includes(path), `${path} is not ignored`)
  }
})

t.test('the HEALTHCHECK command passes on a serving node and fails on none', async (t) => {
  const health = argument('HEALTHCHECK')[0] as string
  t.match(health, /--interval=\S+ --timeout=\S+/)
  const [file, ...args] = JSON.parse(health.slice(health.indexOf('CMD ') + 4)) as [string, ...string[]]
  t.equal(file, 'node', 'no curl in the slim image')
  const { app } = await listen(t)
  const port = String((app.server.address() as { port: number }).port)
  const ok = await run(process.execPath, args, { env: { PORT: port } }).then(() => 0, (err: { code: number }) => err.code)
  t.equal(ok, 0, 'exit 0 while it serves')
  await app.close()
  const down = await run(process.execPath, args, { env: { PORT: port } }).then(() => 0, (err: { code: number }) => err.code)
  t.equal(down, 1, 'exit 1 when nothing answers')

  const { app: mounted } = await listen(t, { prefix: '/realtime' })
  const mountedPort = String((mounted.server.address() as { port: number }).port)
  const underPrefix = await run(process.execPath, args, { env: { PORT: mountedPort, PREFIX: '/realtime' } }).then(() => 0, (err: { code: number }) => err.code)
  t.equal(underPrefix, 0, 'with PREFIX set, it probes /realtime/health')

  const files = await selfSignedCertificate(t)
  const secure = Fastify({ https: { cert: readFileSync(files.cert), key: readFileSync(files.key) } })
  t.teardown(() => secure.close())
  await secure.register(fastifyPubsub)
  await secure.listen({ host: '127.0.0.1', port: 0 })
  const env = { PORT: String((secure.server.address() as { port: number }).port), TLS_CERT: files.cert }
  const overTls = await run(process.execPath, args, { env }).then(() => 0, (err: { code: number }) => err.code)
  t.equal(overTls, 0, 'with TLS_CERT set, it probes over HTTPS')
  const plainProbe = await run(process.execPath, args, { env: { PORT: env.PORT } }).then(() => 0, (err: { code: number }) => err.code)
  t.equal(plainProbe, 1, 'plain HTTP to the TLS port fails')
})

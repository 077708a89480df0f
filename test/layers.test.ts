import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// The layers of src/, bottom first: a file may import its own layer and the
// ones below it, never one above. docs/architecture.md says what each holds.
const LAYERS = ['protocol', 'pubsub', 'auth', 'transport', 'plugins', 'routes', '(plugin)', 'server']
// The browser side stands apart: the SDK and the console speak the wire
// contract only, so they bundle without the server.
const BROWSER: Record<string, string[]> = { client: ['protocol', 'client'], console: ['protocol', 'client', 'console'] }
// Folders that run without Fastify, tested like any library.
const WITHOUT_FASTIFY = new Set(['protocol', 'pubsub', 'transport'])

const src = fileURLToPath(new URL('../src/', import.meta.url))

function files (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? files(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

/** `routes` for src/routes/ws.ts; `(plugin)` for the files at the top (index, app, options). */
function layerOf (file: string): string {
  const path = relative(src, file).split('\\').join('/')
  return path.includes('/') ? path.slice(0, path.indexOf('/')) : '(plugin)'
}

function imports (file: string): Array<{ specifier: string, typeOnly: boolean }> {
  const text = readFileSync(file, 'utf8')
  const found: Array<{ specifier: string, typeOnly: boolean }> = []
  for (const match of text.matchAll(/^(?:import|export)(\s+type)?[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/gm)) {
    found.push({ specifier: match[2] ?? match[3] as string, typeOnly: match[1] !== undefined })
  }
  return found
}

/** Whether a file in layer `from` may import one in layer `to`. */
function allowed (from: string, to: string, target: string, typeOnly: boolean): boolean {
  const browser = BROWSER[from]
  if (browser !== undefined) return browser.includes(to)
  if (BROWSER[to] !== undefined) return from === '(plugin)' || from === 'server' || (from === 'routes' && to === 'console')
  // The routes take the plugin's resolved options: a type, gone at runtime.
  if (typeOnly && to === '(plugin)' && target === 'options.ts' && (from === 'routes' || from === 'plugins')) return true
  return LAYERS.indexOf(to) <= LAYERS.indexOf(from)
}

t.test('imports under src/ point down the layers', async (t) => {
  const wrong: string[] = []
  for (const file of files(src)) {
    const from = layerOf(file)
    for (const { specifier, typeOnly } of imports(file)) {
      if (!specifier.startsWith('.')) {
        if (WITHOUT_FASTIFY.has(from) && (specifier === 'fastify' || (specifier.startsWith('@fastify/') && specifier !== '@fastify/error'))) {
          wrong.push(`${relative(src, file)} imports ${specifier}`)
        }
        continue
      }
      const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts')
      const to = layerOf(target)
      if (!allowed(from, to, relative(src, target), typeOnly)) wrong.push(`${relative(src, file)} (${from}) imports ${specifier} (${to})`)
    }
  }
  t.same(wrong, [], 'no import against the direction')
})

t.test('protocol/ is pure: no I/O, no timers', async (t) => {
  for (const file of files(join(src, 'protocol'))) {
    const text = readFileSync(file, 'utf8')
    const io = imports(file).filter(({ specifier }) => /^node:(?!buffer$)/.test(specifier)).map(({ specifier }) => specifier)
    t.same(io, [], `${relative(src, file)} imports no node: module but buffer`)
    t.notMatch(text, /\bset(Timeout|Interval|Immediate)\(|\bprocess\./, `${relative(src, file)} sets no timer and reads no process state`)
  }
})

t.test('the checker sees an upward import', async (t) => {
  t.notOk(allowed('pubsub', 'transport', 'transport/frame-writer.ts', false))
  t.notOk(allowed('routes', 'server', 'server/config.ts', false))
  t.notOk(allowed('client', 'pubsub', 'pubsub/broker.ts', true))
  t.notOk(allowed('routes', '(plugin)', 'app.ts', false))
  t.ok(allowed('routes', '(plugin)', 'options.ts', true))
  t.ok(allowed('transport', 'protocol', 'protocol/frame.ts', false))
})

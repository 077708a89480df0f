// The .d.ts files a host app's tsc reads reach no TypeBox: its types made a
// 20-line host's type-check take several times as long and as much memory.
// The declarations are emitted in memory from tsconfig.build.json (no dist/
// needed, none written), then walked from package.json's `exports`.
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'
import ts from 'typescript'
import { ROOT } from '../deploy/project.js'

/** Packages whose types a host app must not be made to load. */
const HEAVY = new Set(['typebox', '@fastify/type-provider-typebox'])

/** Every declaration file the build writes, by absolute path, as it would write it. */
function emitDeclarations (): Map<string, string> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.build.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')) }
  }) as ts.ParsedCommandLine
  const program = ts.createProgram(config.fileNames, { ...config.options, declarationMap: false, sourceMap: false })
  const files = new Map<string, string>()
  program.emit(undefined, (name, text) => { files.set(resolve(name), text) }, undefined, true)
  return files
}

/** `@fastify/error` for `@fastify/error/x`, `typebox` for `typebox/value`. */
function packageOf (specifier: string): string {
  const parts = specifier.split('/')
  return parts.slice(0, specifier.startsWith('@') ? 2 : 1).join('/')
}

/**
 * The packages that the declaration files reachable from `entries` import,
 * each with the first file found importing it. Relative imports that lead to
 * no emitted file are listed under `unresolved`, so that none is skipped.
 */
function reachedPackages (files: ReadonlyMap<string, string>, entries: string[]): { packages: Map<string, string>, unresolved: string[] } {
  const packages = new Map<string, string>()
  const unresolved: string[] = []
  const seen = new Set<string>()
  const queue = [...entries]
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue
    seen.add(file)
    const text = files.get(file)
    if (text === undefined) {
      unresolved.push(file)
      continue
    }
    const { importedFiles, typeReferenceDirectives } = ts.preProcessFile(text, true, true)
    for (const { fileName } of [...importedFiles, ...typeReferenceDirectives]) {
      if (fileName.startsWith('.')) queue.push(resolve(dirname(file), fileName.replace(/\.js$/, '.d.ts')))
      else if (!packages.has(packageOf(fileName))) packages.set(packageOf(fileName), file)
    }
  }
  return { packages, unresolved }
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string }> }

t.test('no public entry point reaches typebox in its types', async (t) => {
  const files = emitDeclarations()
  t.ok(files.size > 0, 'the build emits declarations')
  for (const [entry, { types }] of Object.entries(manifest.exports)) {
    const { packages, unresolved } = reachedPackages(files, [resolve(ROOT, types)])
    t.same(unresolved.map((file) => relative(ROOT, file)), [], `every relative import of '${entry}' leads to an emitted file`)
    const heavy = [...packages].filter(([name]) => HEAVY.has(name)).map(([name, file]) => `${relative(ROOT, file)} imports ${name}`)
    t.same(heavy, [], `'${entry}' (${types}) reaches no TypeBox types`)
  }
})

t.test('the walk sees a heavy import however deep and however written', async (t) => {
  const files = new Map([
    ['/p/index.d.ts', "export { a } from './a.js';\nexport type { B } from './sub/b.js';"],
    ['/p/a.d.ts', "import { type Static } from 'typebox';\nexport declare const a: Static<never>;"],
    ['/p/sub/b.d.ts', "export type B = import('@fastify/type-provider-typebox/x').T;\nimport type { C } from '../missing.js';"]
  ])
  const { packages, unresolved } = reachedPackages(files, ['/p/index.d.ts'])
  t.same([...packages], [['typebox', '/p/a.d.ts'], ['@fastify/type-provider-typebox', '/p/sub/b.d.ts']])
  t.same(unresolved, ['/p/missing.d.ts'], 'an import that leads nowhere is reported, not skipped')
})

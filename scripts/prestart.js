// `npm start` runs this first: it builds dist/ (`npm run build`) only when a
// source is newer than it. A start after `npm install` or after another
// start compiles nothing; one after an edit picks the edit up. A production
// install (`npm ci --omit=dev`) has no tsc, and needs none while dist/ is
// current. Plain JavaScript: it runs before anything is compiled.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'

const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.browser.json']
/** One output of each tsc project of `npm run build`: the older one dates the build. */
const OUTPUTS = ['dist/server/cli.js', 'dist/browser/console/main.js']

/** The newest modification time under `path` (ms), or -Infinity where there is nothing. */
function newest (path) {
  let stats
  try {
    stats = statSync(path)
  } catch {
    return -Infinity
  }
  if (!stats.isDirectory()) return stats.mtimeMs
  return Math.max(stats.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))))
}

const built = Math.min(...OUTPUTS.map(newest))
// An installed package has no src/: its dist/ is what there is.
if (Math.max(...INPUTS.map(newest)) > built) {
  const npm = process.env.npm_execpath
  const build = npm === undefined
    ? spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: true })
    : spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' })
  if (build.status !== 0) {
    // tsc writes its output even when it reports errors: dated back, so that
    // the next start does not take a failed build for a current one.
    for (const output of OUTPUTS) {
      try { utimesSync(output, 0, 0) } catch {}
    }
    process.stderr.write('fastify-pubsub: dist/ is older than src/ and `npm run build` failed. A production install (npm ci --omit=dev) has no compiler: build where the dev dependencies are (npm run build) and ship dist/ (docs/deployment.md)\n')
    process.exit(build.status ?? 1)
  }
}

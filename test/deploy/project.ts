// A copy of the project in a temp folder, as a user's clone or a production
// install has it, and the server started there the way users start it.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { WAIT_MS } from '../helper.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** What a clone has, but for node_modules (linked) and dist/ (the copy builds its own). */
const CLONED = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.browser.json', 'src', 'public', 'scripts', 'README.md', 'LICENSE']

/**
 * A clone of the project in a temp folder, removed at teardown. Its
 * node_modules links to this one's; with `production`, only to the packages
 * `npm ci --omit=dev` installs (from the lockfile), so that tsc and the
 * other dev tools are missing as they are after a production install.
 */
export function copyProject (t: Test, options: { production?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-project-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  for (const entry of CLONED) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true })
  const modules = realpathSync(join(ROOT, 'node_modules'))
  if (options.production !== true) {
    symlinkSync(modules, join(dir, 'node_modules'))
    return dir
  }
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Top-level packages only: nested ones come inside their parent's folder.
    if (!path.startsWith('node_modules/') || path.slice('node_modules/'.length).includes('node_modules/') || entry.dev === true) continue
    mkdirSync(join(dir, path, '..'), { recursive: true })
    symlinkSync(join(modules, path.slice('node_modules/'.length)), join(dir, path))
  }
  return dir
}

/**
 * PATH without the node_modules/.bin folders that npm (running the tests)
 * put there: npm adds the copy's own, and a production install has none.
 */
export const PATH_WITHOUT_BINS = String(process.env.PATH).split(':').filter((dir) => !dir.endsWith('node_modules/.bin')).join(':')

/** A server started in `dir` by `command`, with what it printed. */
export interface Started {
  child: ChildProcess
  /** stdout and stderr as they came, npm's lines included. */
  output: () => string
  /** The base URL from the `Server listening at` log line; rejects if it exits first. */
  listening: Promise<string>
  exited: Promise<number | null>
}

/** Runs `command` (`npm start`, say) in `dir` in a process group of its own, killed at teardown. */
export function startIn (t: Test, dir: string, command: string[], env: Record<string, string | undefined> = {}): Started {
  const [file, ...args] = command as [string, ...string[]]
  const child = spawn(file, args, {
    cwd: dir,
    // npm passes a signal on to its script; a group of its own lets teardown reach every process.
    detached: true,
    env: { ...process.env, PATH: PATH_WITHOUT_BINS, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const kill = (): void => { try { process.kill(-(child.pid as number), 'SIGKILL') } catch {} }
  t.teardown(kill)
  // A build under load takes a while; a server that never starts must not hang the suite.
  const timer = setTimeout(kill, 20 * WAIT_MS)
  let output = ''
  const exited = once(child, 'exit').then(([code]) => { clearTimeout(timer); return code as number | null })
  const listening = new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer): void => {
      output += String(chunk)
      const url = /"msg":"Server listening at (https?:\/\/[^"]+)"/.exec(output)?.[1]
      if (url !== undefined) resolve(url)
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    void exited.then((code) => { reject(new Error(`exited with ${code} before listening:\n${output}`)) })
  })
  listening.catch(() => {})
  return { child, output: () => output, listening, exited }
}

/** SIGTERM to the process group (what a terminal's or a supervisor's stop does), and its exit code. */
export async function stop (started: Started): Promise<number | null> {
  process.kill(-(started.child.pid as number), 'SIGTERM')
  return await started.exited
}

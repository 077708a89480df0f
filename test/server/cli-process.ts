// The `fastify-pubsub` command run as a child process, the way a terminal runs it.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** The CLI entry, run from source under tap's TypeScript loader. */
export const cli = fileURLToPath(new URL('../../src/server/cli.ts', import.meta.url))

export interface Running {
  child: ReturnType<typeof spawn>
  out: () => string
  err: () => string
}

/**
 * Starts the command; `out()` and `err()` return what it has printed so far.
 * With `input`, that is its stdin. PUBSUB_URL and PUBSUB_TOKEN are cleared
 * (empty is unset), so that the caller's own do not leak in.
 */
export function run (args: string[], env: Record<string, string> = {}, input?: string): Running {
  const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { env: { ...process.env, PUBSUB_URL: '', PUBSUB_TOKEN: '', ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
  child.stdin?.end(input)
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => { out += String(chunk) })
  child.stderr?.on('data', (chunk: Buffer) => { err += String(chunk) })
  return { child, out: () => out, err: () => err }
}

/** Runs the command to its end. */
export async function finish (args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null, out: string, err: string }> {
  const { child, out, err } = run(args, env, input)
  const [code] = await once(child, 'exit') as [number | null]
  return { code, out: out(), err: err() }
}

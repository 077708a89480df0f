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

/** Starts the command; `out()` and `err()` return what it has printed so far. */
export function run (args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => { out += String(chunk) })
  child.stderr?.on('data', (chunk: Buffer) => { err += String(chunk) })
  return { child, out: () => out, err: () => err }
}

/** Runs the command to its end. */
export async function finish (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, out: string, err: string }> {
  const { child, out, err } = run(args, env)
  const [code] = await once(child, 'exit') as [number | null]
  return { code, out: out(), err: err() }
}

// The server entry run as a child process, as `npm start` runs it.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { WAIT_MS } from '../helper.js'

const entry = fileURLToPath(new URL('../../src/server/main.ts', import.meta.url))

/** Runs the server entry as `npm start` does (from source, under tap's TypeScript loader). */
export function start (env: Record<string, string>, args: string[] = []): ReturnType<typeof spawn> {
  const child = spawn(process.execPath, [...process.execArgv, entry, ...args], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 12 * WAIT_MS)
  child.on('exit', () => clearTimeout(timer))
  return child
}

/** Resolves with the first stdout log line that passes `test`. */
export async function logLine (child: ReturnType<typeof spawn>, test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let buffered = ''
  return await new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += String(chunk)
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>
        if (test(entry)) resolve(entry)
      }
    })
    child.on('exit', (code) => reject(new Error(`exited with ${code} first`)))
  })
}

// deploy/nginx.conf run by a real nginx: the file rendered for this machine
// (nodes, ports, certificate), checked with `nginx -t`, then started as a
// child process of the test. The config is read, never copied here.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect as connectTcp } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { eventually, WAIT_MS } from '../helper.js'
import { freePort } from '../redis/redis-server.js'
import { ROOT } from './project.js'

const run = promisify(execFile)

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx'

/** deploy/nginx.conf as shipped. */
export const CONFIG = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8')

/** Why nginx cannot run here, or false. In CI (where .ci/run installs it) a missing nginx is a failure. */
export function nginxMissing (): string | false {
  if (existsSync(NGINX)) return false
  const why = 'nginx is not installed: apt-get install -y nginx'
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(why)
  return why
}

/** `text` with `pattern` replaced `count` times exactly: a config that changed shape fails here, not later. */
export function replaceExactly (text: string, pattern: RegExp, count: number, replacement: (match: string, index: number) => string): string {
  let index = 0
  const replaced = text.replace(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g'), (match) => replacement(match, index++))
  if (index !== count) throw new Error(`expected ${count} match(es) of ${String(pattern)} in the nginx config, found ${index}`)
  return replaced
}

/** A self-signed certificate for `localhost`, valid a day: its own CA, so clients can trust it by name. */
export async function selfSignedCertificate (t: Test): Promise<{ cert: string, key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-cert-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert])
  return { cert, key }
}

export interface Rendered {
  dir: string
  /** The main config (nginx -c), which includes the rendered deploy/nginx.conf. */
  main: string
  /** The TLS listener's port (443 in the file) and the redirecting one's (80). */
  tls: number
  plain: number
}

/**
 * `config` (deploy/nginx.conf, or a variant of it) made runnable here, in a
 * temp folder of its own; every line but these is kept as written.
 */
export async function render (t: Test, config: string, nodes: string[], certificate: { cert: string, key: string }): Promise<Rendered> {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-nginx-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const [tls, plain] = [await freePort(), await freePort()]
  let text = config
  // The example nodes (10.0.0.11:8080, ...) become the test's two, in order.
  text = replaceExactly(text, /^( *)server [\d.]+:\d+;$/m, nodes.length, (match, i) => match.replace(/[\d.]+:\d+/, nodes[i] as string))
  // 443 and 80 need root and may be taken (Debian starts an nginx of its
  // own on 80 after apt-get install): free loopback ports instead.
  text = replaceExactly(text, /listen 443 ssl;/, 1, () => `listen 127.0.0.1:${tls} ssl;`)
  text = replaceExactly(text, /listen 80;/, 1, () => `listen 127.0.0.1:${plain};`)
  // Let's Encrypt's paths become the test's self-signed pair.
  text = replaceExactly(text, /ssl_certificate( +)\S+;/, 1, () => `ssl_certificate ${certificate.cert};`)
  text = replaceExactly(text, /ssl_certificate_key( +)\S+;/, 1, () => `ssl_certificate_key ${certificate.key};`)
  writeFileSync(join(dir, 'pubsub.conf'), text)

  // What /etc/nginx/nginx.conf would hold, kept to the minimum: one process
  // in the foreground (SIGKILL at teardown leaves no worker behind), and
  // every path nginx writes (pid, logs, temp files; Debian's defaults are
  // under /var) in the temp folder.
  const main = join(dir, 'nginx.conf')
  writeFileSync(main, [
    'daemon off;',
    'master_process off;',
    // As root, nginx gives the temp folders it creates to `user` (nobody by
    // default); one process, it never switches to it. Not root: no switch at all.
    ...(process.getuid?.() === 0 ? ['user root root;'] : []),
    `pid ${dir}/nginx.pid;`,
    'error_log stderr;',
    'events {}',
    'http {',
    `  access_log ${dir}/access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind};`),
    `  include ${dir}/pubsub.conf;`,
    '}',
    ''
  ].join('\n'))
  return { dir, main, tls, plain }
}

/** `nginx -t` on a rendered config: its exit code and what it printed. */
export async function check (rendered: Rendered): Promise<{ code: number, output: string }> {
  return await run(NGINX, ['-t', '-c', rendered.main, '-p', rendered.dir, '-e', 'stderr']).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (err: { code: number, stdout: string, stderr: string }) => ({ code: err.code, output: err.stdout + err.stderr })
  )
}

async function accepts (port: number): Promise<boolean> {
  const socket = connectTcp(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    return true
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

/** Starts nginx on a rendered config; resolves once both ports accept. Killed at teardown. */
export async function startNginx (t: Test, rendered: Rendered): Promise<{ output: () => string }> {
  const child = spawn(NGINX, ['-c', rendered.main, '-p', rendered.dir, '-e', 'stderr'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += String(chunk) })
  child.stderr.on('data', (chunk: Buffer) => { output += String(chunk) })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await exited
  })
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${output}`)
    return await accepts(rendered.tls) && await accepts(rendered.plain)
  }, WAIT_MS)
  return { output: () => output }
}

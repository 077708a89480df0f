// A Redis Cluster of the test's own: six redis-server processes (three
// primaries, three replicas) on free ports, without persistence, created
// with `redis-cli --cluster create`, with a small cluster-node-timeout so
// that a failover takes about a second.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { eventually } from '../helper.js'
import { freePort } from './redis-server.js'

const run = promisify(execFile)

/** ms without an answer after which a cluster node is taken for failed. */
const NODE_TIMEOUT = 1000

/** The password of each node that has one (a cluster started with `password`): `cli` authenticates with it. */
const passwords = new Map<number, string>()
/** redis-cli's TLS flags for each node that speaks only TLS (a cluster started with `tls`). */
const tlsFlags = new Map<number, string[]>()

/** A CA and a certificate it signed for 127.0.0.1 and localhost, in `dir`: what a TLS cluster of the tests serves. */
export async function testCertificates (dir: string): Promise<{ ca: string, cert: string, key: string }> {
  const [ca, caKey, cert, key, csr, ext] = ['ca.crt', 'ca.key', 'node.crt', 'node.key', 'node.csr', 'san.ext'].map((name) => join(dir, name)) as [string, string, string, string, string, string]
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '1', '-subj', '/CN=fastify-pubsub test CA'])
  await run('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1'])
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext])
  return { ca, cert, key }
}

/** One reply of `redis-cli -p port <args>`, as text ('' when the node does not answer). */
export async function cli (port: number, ...args: string[]): Promise<string> {
  try {
    const password = passwords.get(port)
    // REDISCLI_AUTH: redis-cli's own way to take a password without it on the command line.
    const env = password === undefined ? process.env : { ...process.env, REDISCLI_AUTH: password }
    return (await run('redis-cli', ['-p', String(port), ...tlsFlags.get(port) ?? [], ...args], { timeout: 5000, env })).stdout
  } catch {
    return ''
  }
}

/** A node of the cluster as CLUSTER NODES lists it. */
export interface ClusterNode { id: string, port: number, primary: boolean, failed: boolean, primaryId: string, slots: Array<[number, number]> }

/** The cluster's nodes, as the node on `port` sees them. */
export async function clusterNodes (port: number): Promise<ClusterNode[]> {
  return (await cli(port, 'CLUSTER', 'NODES')).trim().split('\n').filter((line) => line !== '').map((line) => {
    const [id, address, flags, primaryId, , , , , ...slots] = line.split(' ') as [string, string, string, string, ...string[]]
    return {
      id,
      port: Number(/:(\d+)@/.exec(address)?.[1]),
      primary: flags.includes('master'),
      failed: flags.includes('fail'),
      primaryId,
      slots: slots.filter((range) => !range.startsWith('[')).map((range) => {
        const [from, to] = range.split('-').map(Number) as [number, number?]
        return [from, to ?? from]
      })
    }
  })
}

export class RedisCluster {
  /** The client ports of the six nodes; the first three start as primaries. */
  readonly ports: number[]
  readonly #processes: ChildProcess[] = []

  private constructor (ports: number[]) {
    this.ports = ports
  }

  /**
   * A new cluster, every slot covered and every node agreeing; stopped when
   * `t` ends. With `password`, every node requires it (requirepass, and
   * masterauth for its replication). With `tls`, every node speaks only
   * TLS, on its client port, bus and replication, with a certificate of
   * `testCertificates`.
   */
  static async start (t: Test, options: { password?: string, tls?: { ca: string, cert: string, key: string } } = {}): Promise<RedisCluster> {
    const ports: number[] = []
    // Each node has a bus port too: twelve ports, all distinct.
    while (ports.length < 12) {
      const port = await freePort()
      if (!ports.includes(port)) ports.push(port)
    }
    const cluster = new RedisCluster(ports.slice(0, 6))
    const dir = mkdtempSync(join(tmpdir(), 'pubsub-cluster-'))
    const auth = options.password === undefined ? [] : ['--requirepass', options.password, '--masterauth', options.password]
    const tls = options.tls === undefined
      ? []
      : ['--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key, '--tls-ca-cert-file', options.tls.ca, '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-auth-clients', 'no']
    const cliTls = options.tls === undefined ? [] : ['--tls', '--cacert', options.tls.ca]
    for (const port of cluster.ports) {
      if (options.password !== undefined) passwords.set(port, options.password)
      if (options.tls !== undefined) tlsFlags.set(port, cliTls)
    }
    t.teardown(async () => {
      await cluster.stop()
      for (const port of cluster.ports) {
        passwords.delete(port)
        tlsFlags.delete(port)
      }
      rmSync(dir, { recursive: true, force: true })
    })
    for (const [i, port] of cluster.ports.entries()) {
      cluster.#processes.push(spawn('redis-server', [
        ...(options.tls === undefined ? ['--port', String(port)] : ['--port', '0', '--tls-port', String(port)]), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(ports[6 + i]),
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(NODE_TIMEOUT),
        // A replica of an idle primary hears from it only every repl-ping-replica-period
        // (10 s), past node-timeout × 10: it would refuse to take over ("Disconnected
        // from master for longer than allowed").
        '--cluster-replica-validity-factor', '0',
        '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', ...auth, ...tls
      ], { stdio: 'ignore' }))
    }
    for (const port of cluster.ports) await eventually(async () => (await cli(port, 'PING')).startsWith('PONG'))
    const env = options.password === undefined ? process.env : { ...process.env, REDISCLI_AUTH: options.password }
    await run('redis-cli', [...cliTls, '--cluster', 'create', ...cluster.ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000, env })
    await eventually(async () => {
      for (const port of cluster.ports) if (!(await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false
      return true
    }, 20_000)
    return cluster
  }

  /** What the engine's `nodes` option takes: every node, as host:port. */
  get nodes (): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}`)
  }

  /** Kills one node (SIGKILL: what a crash looks like) and waits for its exit; its replica may then take over. */
  async kill (port: number): Promise<void> {
    const child = this.#processes[this.ports.indexOf(port)] as ChildProcess
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  /** Freezes one node (SIGSTOP): it neither answers nor replicates until `resume`. */
  pause (port: number): void {
    (this.#processes[this.ports.indexOf(port)] as ChildProcess).kill('SIGSTOP')
  }

  /** Lets a paused node run again (SIGCONT). */
  resume (port: number): void {
    (this.#processes[this.ports.indexOf(port)] as ChildProcess).kill('SIGCONT')
  }

  /** Ends every node (SIGTERM: none of them is ours to measure) and waits for the exits. */
  async stop (): Promise<void> {
    const children = this.#processes.splice(0).filter((child) => child.exitCode === null && child.signalCode === null)
    await Promise.all(children.map(async (child) => {
      const exited = once(child, 'exit')
      // A paused node would not handle the SIGTERM.
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      await exited
    }))
  }
}

/** `master_repl_offset` of a node (INFO replication), or -1 when it does not answer. */
export async function replOffset (port: number): Promise<number> {
  return Number(/master_repl_offset:(\d+)/.exec(await cli(port, 'INFO', 'replication'))?.[1] ?? -1)
}

/** The view of the node on `port`, once it lists three primaries that hold slots, each with its replica. */
export async function settledView (port: number): Promise<ClusterNode[]> {
  let nodes: ClusterNode[] = []
  await eventually(async () => {
    nodes = await clusterNodes(port)
    const holding = nodes.filter((node) => node.primary && node.slots.length > 0)
    return holding.length === 3 && holding.every((primary) => nodes.some((node) => node.primaryId === primary.id))
  })
  return nodes
}

// A Redis Cluster of the test's own: six redis-server processes (three
// primaries, three replicas) on free ports, without persistence, created
// with `redis-cli --cluster create`, with a small cluster-node-timeout so
// that a failover takes about a second.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { eventually } from '../helper.js'
import { freePort } from './redis-server.js'

const run = promisify(execFile)

/** ms without an answer after which a cluster node is taken for failed. */
const NODE_TIMEOUT = 1000

/** One reply of `redis-cli -p port <args>`, as text ('' when the node does not answer). */
export async function cli (port: number, ...args: string[]): Promise<string> {
  try {
    return (await run('redis-cli', ['-p', String(port), ...args], { timeout: 5000 })).stdout
  } catch {
    return ''
  }
}

export class RedisCluster {
  /** The client ports of the six nodes; the first three start as primaries. */
  readonly ports: number[]
  readonly #processes: ChildProcess[] = []

  private constructor (ports: number[]) {
    this.ports = ports
  }

  /** A new cluster, every slot covered and every node agreeing; stopped when `t` ends. */
  static async start (t: Test): Promise<RedisCluster> {
    const ports: number[] = []
    // Each node has a bus port too: twelve ports, all distinct.
    while (ports.length < 12) {
      const port = await freePort()
      if (!ports.includes(port)) ports.push(port)
    }
    const cluster = new RedisCluster(ports.slice(0, 6))
    const dir = mkdtempSync(join(tmpdir(), 'pubsub-cluster-'))
    t.teardown(async () => {
      await cluster.stop()
      rmSync(dir, { recursive: true, force: true })
    })
    for (const [i, port] of cluster.ports.entries()) {
      cluster.#processes.push(spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(ports[6 + i]),
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(NODE_TIMEOUT),
        // A replica of an idle primary hears from it only every repl-ping-replica-period
        // (10 s), past node-timeout × 10: it would refuse to take over ("Disconnected
        // from master for longer than allowed").
        '--cluster-replica-validity-factor', '0',
        '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'
      ], { stdio: 'ignore' }))
    }
    for (const port of cluster.ports) await eventually(async () => (await cli(port, 'PING')).startsWith('PONG'))
    await run('redis-cli', ['--cluster', 'create', ...cluster.ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 })
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

  /** Ends every node (SIGTERM: none of them is ours to measure) and waits for the exits. */
  async stop (): Promise<void> {
    const children = this.#processes.splice(0).filter((child) => child.exitCode === null && child.signalCode === null)
    await Promise.all(children.map(async (child) => {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }))
  }
}

// A Redis primary, one replica and three sentinels of the test's own, on
// free ports, with a small down-after so that a failover takes seconds.
// Debian's redis-server binary runs as a sentinel with --sentinel (the
// redis-sentinel package only links to it), so nothing more is installed.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { eventually } from '../helper.js'
import { command, freePort, RedisServer } from './redis-server.js'

export const MASTER_NAME = 'mymaster'
/** How long a failover may take here: down-after, the vote, the promotion, and the sentinels' 1 s INFO period. */
export const FAILOVER_MS = 20_000

export class SentinelGroup {
  primary: RedisServer
  replica: RedisServer
  readonly ports: number[]

  private constructor (primary: RedisServer, replica: RedisServer, ports: number[]) {
    this.primary = primary
    this.replica = replica
    this.ports = ports
  }

  /** Starts them all and waits until every sentinel knows the replica and the other two: a failover can then be voted. */
  static async start (t: Test): Promise<SentinelGroup> {
    const dir = mkdtempSync(join(tmpdir(), 'pubsub-sentinel-'))
    t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    // A diskless sync waits 5 s for more replicas by default.
    const primary = await RedisServer.start(t, { args: ['--repl-diskless-sync-delay', '0'] })
    // The replica writes the primary's snapshot to its folder while it syncs.
    const replica = await RedisServer.start(t, { args: ['--replicaof', '127.0.0.1', String(primary.port), '--dir', dir] })
    await eventually(async () => (await replica.run('INFO replication')).includes('master_link_status:up'), FAILOVER_MS)
    const ports = await Promise.all([0, 1, 2].map(async () => await freePort()))
    for (const port of ports) {
      const file = join(dir, `sentinel-${port}.conf`)
      // Sentinel rewrites its file: one each, in a folder of the test's own.
      writeFileSync(file, [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 500`,
        `sentinel failover-timeout ${MASTER_NAME} 3000`,
        'loglevel warning',
        ''
      ].join('\n'))
      const child = spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' })
      t.teardown(() => stop(child))
    }
    await eventually(async () => {
      for (const port of ports) {
        const replicas = await command(port, `SENTINEL REPLICAS ${MASTER_NAME}`).catch(() => '')
        const sentinels = await command(port, `SENTINEL SENTINELS ${MASTER_NAME}`).catch(() => '')
        if (!replicas.includes(String(replica.port)) || (sentinels.match(/\bname\b/g) ?? []).length < 2) return false
      }
      return true
    }, FAILOVER_MS)
    return new SentinelGroup(primary, replica, ports)
  }

  get sentinels (): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}`)
  }

  /** The port of the primary every sentinel names now. */
  async primaryPort (): Promise<number[]> {
    return await Promise.all(this.ports.map(async (port) => Number(/\r\n:?(\d+)\r\n$/.exec(await command(port, `SENTINEL GET-MASTER-ADDR-BY-NAME ${MASTER_NAME}`))?.[1])))
  }

  /** SIGKILLs the primary and waits until every sentinel names the replica instead. */
  async failover (): Promise<void> {
    await this.primary.stop()
    await eventually(async () => (await this.primaryPort()).every((port) => port === this.replica.port), FAILOVER_MS)
    await eventually(async () => (await this.replica.run('INFO replication')).includes('role:master'), FAILOVER_MS)
  }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

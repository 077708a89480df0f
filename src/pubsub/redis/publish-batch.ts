import type { PublishReply } from './scripts.js'

/** One publish of a batch: its keys and arguments in the script's order (scripts.ts PUBLISH_BATCH). */
export interface BatchedPublish {
  /** Meta hash, history list, idempotency hash; on a cluster, the counter of the publish's fan-in channel. */
  keys: [string, string, string] | [string, string, string, string]
  /** topic, json, historySize, historyTtl, idempotency window, delivered, lineage, partition. */
  args: [string, string, number, number, number, number, string, number]
}

interface Waiting extends BatchedPublish {
  resolve: (reply: PublishReply) => void
  reject: (err: unknown) => void
}

/** Publishes in one script call at most: a turn's burst goes in several, each a bounded command. */
export const MAX_BATCH = 256

/**
 * Gathers the publishes of one turn per batch key (one Redis: one key; a
 * cluster: the slot group, whose keys one shard holds) and hands each
 * batch to `run`, in order, once the turn's synchronous work and promise
 * jobs are done (process.nextTick runs after them): at a high rate many
 * publishes share one script call, at a low one each goes alone, a tick
 * later. `run` answers a reply per publish, or fails them all.
 */
export class PublishBatches<K> {
  readonly #run: (key: K, batch: BatchedPublish[]) => Promise<PublishReply[]>
  readonly #waiting = new Map<K, Waiting[]>()

  constructor (run: (key: K, batch: BatchedPublish[]) => Promise<PublishReply[]>) {
    this.#run = run
  }

  async add (key: K, publish: BatchedPublish): Promise<PublishReply> {
    return await new Promise((resolve, reject) => {
      if (this.#waiting.size === 0) process.nextTick(() => { this.#flush() })
      let waiting = this.#waiting.get(key)
      if (waiting === undefined) {
        waiting = []
        this.#waiting.set(key, waiting)
      }
      waiting.push({ ...publish, resolve, reject })
    })
  }

  #flush (): void {
    for (const [key, waiting] of this.#waiting) {
      for (let i = 0; i < waiting.length; i += MAX_BATCH) void this.#send(key, waiting.slice(i, i + MAX_BATCH))
    }
    this.#waiting.clear()
  }

  async #send (key: K, batch: Waiting[]): Promise<void> {
    try {
      const replies = await this.#run(key, batch)
      batch.forEach((publish, i) => { publish.resolve(replies[i] as PublishReply) })
    } catch (err) {
      for (const publish of batch) publish.reject(err)
    }
  }
}

/**
 * A publish's answer, or its own failure thrown as ioredis throws a
 * command's error reply (a ReplyError, which the engines tell from Redis
 * being away).
 */
export function replied (reply: PublishReply): [number, string, number, 0 | 1] {
  if (reply[0] !== 'E') return reply
  const err = new Error(reply[1])
  err.name = 'ReplyError'
  throw err
}

/** The script's arguments for a batch: the number of keys, then the keys, then the arguments (`shared` first). */
export function batchArguments (shared: { retained: string, names: string, args: Array<string | number> }, batch: BatchedPublish[]): Array<string | number> {
  const keys: string[] = [shared.retained, shared.names]
  const args: Array<string | number> = [...shared.args]
  for (const publish of batch) {
    keys.push(...publish.keys)
    args.push(...publish.args)
  }
  return [keys.length, ...keys, ...args]
}

import type { Redis } from 'ioredis'
import { PUBSUB_ERR_OPTION } from '../../protocol/errors.js'
import type { PrimaryChange } from './engine.js'

/** The engines' `primaryChange` option, or `fallback` where it is not set; anything else is refused. */
export function primaryChangeOf (value: PrimaryChange | undefined, fallback: PrimaryChange): PrimaryChange {
  const primaryChange = value ?? fallback
  if (primaryChange !== 'new-epoch' && primaryChange !== 'continue') throw new PUBSUB_ERR_OPTION('primaryChange', primaryChange, "'new-epoch' or 'continue'")
  return primaryChange
}

/**
 * Which primary a connection is on: its replication id (INFO replication's
 * `master_replid`), read by the first script of each connection. Redis gives
 * a primary a new replication id when a replica is promoted and when it
 * restarts (https://redis.io/docs/latest/operate/oss_and_stack/management/replication/#replication-id-explained),
 * so a topic whose seq was last written under another id may lack its last
 * increments: the scripts then start a new epoch (scripts.ts).
 *
 * Costs one INFO per connection; a publish then reads `id`, a field.
 */
export class PrimaryIdentity {
  readonly #redis: Redis
  #id: string | undefined
  #reading: Promise<string> | undefined

  constructor (redis: Redis) {
    this.#redis = redis
    // ioredis emits 'close' a turn after the socket's, so an INFO answered
    // on a connection is always read before that connection's 'close'.
    redis.on('close', () => {
      this.#id = undefined
      this.#reading = undefined
    })
  }

  /** The replication id, once read on the current connection. */
  get id (): string | undefined {
    return this.#id
  }

  /** Reads the replication id of the current connection (once for concurrent callers); fails as the INFO does. */
  async read (): Promise<string> {
    this.#reading ??= this.#info()
    return await this.#reading
  }

  async #info (): Promise<string> {
    try {
      const info = await this.#redis.info('replication')
      // Every Redis since 4.0 reports it.
      this.#id = (info.match(/^master_replid:(\w+)/m) as RegExpMatchArray)[1] as string
      return this.#id
    } catch (err) {
      this.#reading = undefined
      throw err
    }
  }
}

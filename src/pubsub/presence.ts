import type { LocalSubscriptions, Presence } from './engine.js'

/**
 * Presence on one node: read from the broker's own subscriptions, so there
 * is nothing to tell it.
 */
export class LocalPresence implements Presence {
  readonly #local: () => LocalSubscriptions

  /** `local`: the broker's subscriptions, once the engine is attached. */
  constructor (local: () => LocalSubscriptions) {
    this.#local = local
  }

  changed (): void {}

  async subscribers (key: string, limit: number): Promise<{ count: number, clients: string[] }> {
    const local = this.#local()
    return { count: local.count(key), clients: local.clientIds(key, limit) }
  }
}

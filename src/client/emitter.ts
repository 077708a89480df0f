/**
 * The few lines of an event emitter the client needs, the same in browsers
 * and Node (no `node:events` on the browser path).
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(value: never) => void>>()

  /** Calls `listener` on every `event`; returns the function that stops it. */
  on<K extends keyof Events> (event: K, listener: (value: Events[K]) => void): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) this.#listeners.set(event, set = new Set())
    set.add(listener)
    return () => { set.delete(listener) }
  }

  /** Like `on`, for the next `event` only. */
  once<K extends keyof Events> (event: K, listener: (value: Events[K]) => void): () => void {
    const off = this.on(event, (value) => { off(); listener(value) })
    return off
  }

  protected emit<K extends keyof Events> (event: K, value: Events[K]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) (listener as (value: Events[K]) => void)(value)
  }
}

/**
 * Runs an action at the first call of a burst, and once more when calls have
 * stopped for `quietMs`, if any came after the first: however long the burst,
 * the action runs at most twice. The second run comes after the last call,
 * so nothing the burst was about goes untold.
 */
export class Burst {
  readonly #action: () => void
  readonly #quietMs: number
  #timer: NodeJS.Timeout | undefined
  #owed = false

  constructor (action: () => void, quietMs: number) {
    this.#action = action
    this.#quietMs = quietMs
  }

  call (): void {
    if (this.#timer !== undefined) {
      this.#owed = true
      this.#timer.refresh()
      return
    }
    this.#action()
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (!this.#owed) return
      this.#owed = false
      this.#action()
    }, this.#quietMs)
    this.#timer.unref()
  }

  /** No burst under way: the next call runs at once. */
  get settled (): boolean {
    return this.#timer === undefined
  }

  /** Nothing more runs (the owner closes). */
  stop (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#owed = false
  }
}

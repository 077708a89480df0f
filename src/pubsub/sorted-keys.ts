/**
 * A set of strings kept in sorted order, so that listing a page from a cursor
 * or a prefix costs O(log n + page) however many keys there are. Insertion and
 * removal move pointers (O(n) memmove), far cheaper than sorting per listing.
 */
export class SortedKeys {
  #keys: string[] = []

  get size (): number {
    return this.#keys.length
  }

  add (key: string): void {
    const i = this.#lowerBound(key)
    if (this.#keys[i] !== key) this.#keys.splice(i, 0, key)
  }

  delete (key: string): void {
    const i = this.#lowerBound(key)
    if (this.#keys[i] === key) this.#keys.splice(i, 1)
  }

  clear (): void {
    this.#keys = []
  }

  /** Keys starting with `prefix` and greater than `after`, in order. */
  * from (prefix: string, after: string | undefined): Generator<string> {
    let i = this.#lowerBound(after !== undefined && after > prefix ? after : prefix)
    if (after !== undefined && this.#keys[i] === after) i++
    for (; i < this.#keys.length; i++) {
      const key = this.#keys[i] as string
      if (!key.startsWith(prefix)) return
      yield key
    }
  }

  #lowerBound (key: string): number {
    let lo = 0
    let hi = this.#keys.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.#keys[mid] as string) < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

import { byId, element } from './dom.js'

/** One line of the log: a message, or something the console wants to say. */
export interface LogEntry {
  kind: 'message' | 'system' | 'fault'
  title: string
  details?: string[]
  body?: string
  attributes?: Record<string, string>
}

/**
 * The message list, newest first and at most `limit` entries long. While
 * paused, entries wait (still bounded) and show up on resume.
 */
export class MessageLog {
  readonly #list = byId<HTMLOListElement>('log')
  readonly #count = byId('log-count')
  readonly #empty = byId('log-empty')
  readonly #pause = byId<HTMLButtonElement>('pause')
  readonly #limit: number
  #waiting: LogEntry[] = []
  #paused = false

  constructor (limit: number) {
    this.#limit = limit
    this.#pause.addEventListener('click', () => { this.#setPaused(!this.#paused) })
    byId('clear').addEventListener('click', () => {
      this.#list.replaceChildren()
      this.#waiting = []
      this.#update()
    })
    this.#update()
  }

  add (entry: LogEntry): void {
    if (this.#paused) {
      this.#waiting.push(entry)
      if (this.#waiting.length > this.#limit) this.#waiting.shift()
    } else {
      this.#render(entry)
    }
    this.#update()
  }

  #setPaused (paused: boolean): void {
    this.#paused = paused
    this.#pause.setAttribute('aria-pressed', String(paused))
    if (!paused) {
      for (const entry of this.#waiting) this.#render(entry)
      this.#waiting = []
    }
    this.#update()
  }

  #render (entry: LogEntry): void {
    const item = element('li', '', { class: entry.kind, ...entry.attributes })
    const meta = element('div', '', { class: 'meta' })
    meta.append(element('span', entry.title, { class: 'topic' }))
    for (const detail of entry.details ?? []) meta.append(element('span', detail))
    item.append(meta)
    if (entry.body !== undefined) item.append(element('pre', entry.body))
    this.#list.prepend(item)
    while (this.#list.childElementCount > this.#limit) this.#list.lastElementChild?.remove()
  }

  #update (): void {
    const shown = this.#list.childElementCount
    this.#empty.hidden = shown > 0 || this.#waiting.length > 0
    this.#count.textContent = shown === 0 ? '' : `(${shown}${shown === this.#limit ? ', oldest dropped' : ''})`
    this.#pause.textContent = this.#paused ? `Resume${this.#waiting.length > 0 ? ` (${this.#waiting.length} new)` : ''}` : 'Pause'
  }
}

// An SSE client at the HTTP level, as curl -N sees a stream: events parsed as they arrive.
import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { Test } from 'tap'
import { eventually, WAIT_MS } from './helper.js'

export interface SseEvent { id?: string, event: string, data: any }

/** An SSE client at the HTTP level: events and comments in arrival order. */
export class SseClient {
  readonly events: SseEvent[] = []
  comments = 0
  retry: number | undefined
  readonly response: IncomingMessage
  #buffer = ''

  constructor (response: IncomingMessage) {
    this.response = response
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      this.#buffer += chunk
      let end: number
      while ((end = this.#buffer.indexOf('\n\n')) !== -1) {
        this.#parse(this.#buffer.slice(0, end))
        this.#buffer = this.#buffer.slice(end + 2)
      }
    })
  }

  #parse (block: string): void {
    const event: SseEvent = { event: 'message', data: undefined }
    let data: string | undefined
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) { this.comments++; continue }
      const colon = line.indexOf(': ')
      const [field, value] = [line.slice(0, colon), line.slice(colon + 2)]
      if (field === 'retry') this.retry = Number(value)
      if (field === 'id') event.id = value
      if (field === 'event') event.event = value
      if (field === 'data') data = value
    }
    if (data !== undefined) this.events.push({ ...event, data: JSON.parse(data) })
  }

  async until (n: number): Promise<SseEvent[]> {
    await eventually(() => this.events.length >= n, WAIT_MS)
    return this.events
  }

  close (): void {
    this.response.destroy()
  }
}

export async function sse (t: Test, url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest(url, { headers }, resolve).on('error', reject).end()
  })
  const client = new SseClient(response)
  t.teardown(() => client.close())
  return client
}

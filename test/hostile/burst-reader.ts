// A subscriber in a process of its own, reading as fast as it can, as
// `websocat` or `curl -N` would: run by burst.test.ts, so that it reads while
// the server writes instead of waiting for the test process's turn.
//
//   node burst-reader.ts ws|sse <base url> <topic> <expected>
//
// Prints `ready` once subscribed, then one JSON line when it has `expected`
// messages or the server closed it: { received, ordered, closed }.
import { get } from 'node:http'
import WebSocket from 'ws'

const [kind, url, topic, expectedArg] = process.argv.slice(2) as [string, string, string, string]
const expected = Number(expectedArg)
const MESSAGE = Buffer.from('{"type":"message"')
let received = 0
let ordered = true

function seen (seq: number): void {
  if (seq !== received + 1) ordered = false
  received++
}

function report (closed: string | number | null): void {
  process.stdout.write(JSON.stringify({ received, ordered, closed }) + '\n')
  process.exit(0)
}

if (kind === 'ws') {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws')
  ws.on('open', () => { ws.send(JSON.stringify({ action: 'subscribe', topic, id: 'sub' })) })
  ws.on('message', (data: Buffer) => {
    if (!data.subarray(0, 17).equals(MESSAGE)) {
      if (String(data).includes('"id":"sub"')) process.stdout.write('ready\n')
      return
    }
    // {"type":"message",...,"data":...,"seq":N,"ts":T}: no JSON.parse of 60 KB.
    const at = data.lastIndexOf('"seq":')
    seen(parseInt(data.toString('latin1', at + 6, at + 22), 10))
    if (received === expected) report(null)
  })
  ws.on('close', (code) => { report(code) })
} else {
  get(`${url}/sse/${topic}`, (response) => {
    let buffered = ''
    response.setEncoding('latin1')
    response.on('data', (chunk: string) => {
      buffered += chunk
      let end: number
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const event = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        if (event.includes('event: subscribed')) process.stdout.write('ready\n')
        // id: <epoch>:<seq>
        else if (event.startsWith('id: ')) seen(parseInt(event.slice(event.indexOf(':', 4) + 1), 10))
      }
      if (received === expected) report(null)
    })
    response.on('close', () => { report('cut') })
  })
}

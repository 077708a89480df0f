import t from 'tap'
import WebSocket from 'ws'
import { listen } from '../helper.js'

/** The error a real ws client gets for `path`, or 'open' if it was upgraded. */
async function upgrade (base: string, path: string): Promise<string> {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + path)
  const outcome = await new Promise<string>((resolve) => {
    ws.once('open', () => { resolve('open') })
    ws.once('error', (err) => { resolve(err.message) })
  })
  ws.terminate()
  return outcome
}

t.test('an upgrade on a path with no WebSocket route answers 404 before upgrading', async (t) => {
  for (const prefix of ['', '/realtime']) {
    const { url } = await listen(t, { prefix })
    // The console's wildcard route matches these; the last matches no route at all.
    for (const path of ['/wsx', '/', '/topics', '/realtime/ws', '/nowhere/ws']) {
      if (prefix === '' && path === '/realtime/ws') continue
      t.equal(await upgrade(url, path), 'Unexpected server response: 404', `${prefix}${path}`)
    }
    t.equal(await upgrade(url, '/ws'), 'open', `${prefix}/ws is upgraded`)
  }
})

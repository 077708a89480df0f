import { once } from 'node:events'
import { createServer } from 'node:net'
import t from 'tap'
import { listenErrorLine } from '../../src/server/listen-error.js'

/** The error a real listen on `port` of 127.0.0.1 fails with. */
async function listenError (port: number): Promise<Error> {
  const server = createServer().listen(port, '127.0.0.1')
  const [err] = await once(server, 'error') as [Error]
  return err
}

t.test('a port in use: one line naming the address and the setting', async (t) => {
  const holder = createServer().listen(0, '127.0.0.1')
  t.teardown(() => holder.close())
  await once(holder, 'listening')
  const { port } = holder.address() as { port: number }
  t.equal(listenErrorLine(await listenError(port), '127.0.0.1', port), `127.0.0.1:${port} is already in use (EADDRINUSE): stop what listens there, or choose another port (--port, PORT)`)
})

t.test('a port without the privilege, another listen failure, and errors that are not about listening', async (t) => {
  // Root may listen anywhere: the error as Node makes it for anyone else.
  const denied = Object.assign(new Error('listen EACCES: permission denied 127.0.0.1:80'), { syscall: 'listen', code: 'EACCES' })
  t.equal(listenErrorLine(denied, '127.0.0.1', 80), 'not allowed to listen on 127.0.0.1:80 (EACCES): ports below 1024 need privileges; choose another port (--port, PORT)')
  const other = Object.assign(new Error('listen EINVAL: invalid argument'), { syscall: 'listen', code: 'EINVAL' })
  t.equal(listenErrorLine(other, '::1', 8080), 'cannot listen on ::1:8080: listen EINVAL: invalid argument')
  t.equal(listenErrorLine(new Error('a bug'), '127.0.0.1', 8080), undefined, 'a bug keeps its stack (the fatal log line)')
  t.equal(listenErrorLine(Object.assign(new Error('connect ECONNREFUSED'), { syscall: 'connect' }), '127.0.0.1', 8080), undefined)
})

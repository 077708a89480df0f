/**
 * What the standalone server says when it cannot take its address: one
 * line for a person at a terminal (a port in use is an everyday mistake,
 * not a crash), or undefined for an error that is not about listening.
 */
export function listenErrorLine (err: unknown, host: string, port: number): string | undefined {
  const { syscall, code, message } = err as NodeJS.ErrnoException
  if (syscall !== 'listen') return undefined
  const address = `${host}:${port}`
  if (code === 'EADDRINUSE') return `${address} is already in use (EADDRINUSE): stop what listens there, or choose another port (--port, PORT)`
  if (code === 'EACCES') return `not allowed to listen on ${address} (EACCES): ports below 1024 need privileges; choose another port (--port, PORT)`
  if (code === 'EADDRNOTAVAIL') return `${host} is not an address of this machine (EADDRNOTAVAIL): choose another host (--host, HOST)`
  return `cannot listen on ${address}: ${message}`
}

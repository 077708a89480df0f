import Fastify from 'fastify'
import cluster from 'node:cluster'
import fastifyPubsub from './app.js'
import { redactToken } from './auth/http.js'
import { runPrimary } from './cluster.js'
import { loadConfig, type Config } from './config.js'

// The standalone server: `npm start`. Everything else is in the plugin.

let config: Config
try {
  config = loadConfig()
} catch (err) {
  // Before the logger exists: one readable line naming the setting.
  process.stderr.write(`fastify-pubsub: ${(err as Error).message}\n`)
  process.exit(1)
}

if (config.workers > 1 && cluster.isPrimary) {
  runPrimary(config.workers, (line) => { process.stdout.write(`${JSON.stringify({ time: Date.now(), pid: process.pid, ...line })}\n`) })
} else {
  await serve(config)
}

async function serve (config: Config): Promise<void> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      // Browsers send their token in the query (?token=): never in the logs.
      serializers: {
        req: (request) => ({ method: request.method, url: redactToken(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort })
      }
    }
  })

  let closing = false
  async function shutdown (signal: string): Promise<void> {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'closing')
    // Like fastify-cli's closeWithGrace: a close that hangs must not keep the process.
    const giveUp = setTimeout(() => {
      app.log.error({ closeTimeout: config.closeTimeout }, 'close did not finish in time: exiting')
      process.exit(1)
    }, config.closeTimeout)
    giveUp.unref()
    await app.close()
    clearTimeout(giveUp)
    // A worker's IPC channel to the primary would keep it alive.
    cluster.worker?.disconnect()
  }
  process.once('SIGINT', (signal) => { void shutdown(signal) })
  process.once('SIGTERM', (signal) => { void shutdown(signal) })

  try {
    await app.register(fastifyPubsub, config.pubsub)
    await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    app.log.fatal({ err }, 'could not start')
    process.exitCode = 1
    await app.close()
  }
}

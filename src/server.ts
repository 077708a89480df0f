import Fastify from 'fastify'
import fastifyPubsub from './app.js'
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
const app = Fastify({ logger: { level: config.logLevel, redact: ['req.headers.authorization'] } })

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

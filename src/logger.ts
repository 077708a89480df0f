import type { FastifyServerOptions } from 'fastify'
import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import { nanoid } from 'nanoid'
import { redactToken } from './auth/http.js'
import type { Config } from './config.js'
import { PUBSUB_ERR_OPTION } from './pubsub/errors.js'

/** A request id a proxy may hand over: short and plain, so it cannot forge log lines. */
const REQUEST_ID = /^[\w.:-]{1,64}$/

/**
 * The standalone server's logging: pino JSON lines, or pino-pretty when
 * asked for (`logPretty`) or, by default, when stdout is a terminal and
 * pino-pretty is installed (a dev dependency: production installs skip it).
 * Request ids come from `x-request-id` when a proxy set a plain one, else
 * are random (unique across workers), and are echoed in the response.
 */
export function loggingOptions (config: Pick<Config, 'logLevel' | 'logPretty'>, isTTY: boolean, hasPretty = installed('pino-pretty')): FastifyServerOptions {
  const pretty = config.logPretty ?? (isTTY && hasPretty)
  if (pretty && !hasPretty) throw new PUBSUB_ERR_OPTION('logPretty (LOG_PRETTY, --log-pretty)', true, 'pino-pretty installed: npm install --save-dev pino-pretty')
  return {
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      // Browsers send their token in the query (?token=): never in the logs.
      serializers: {
        req: (request) => ({ method: request.method, url: redactToken(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort })
      },
      ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
    },
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : nanoid(12)
    }
  }
}

/** Whether a package can be loaded from here (optional dependencies). */
export function installed (name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name)
    return true
  } catch {
    return false
  }
}

import proxyAddr from '@fastify/proxy-addr'
import type { FastifyServerOptions } from 'fastify'
import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import { nanoid } from 'nanoid'
import { requestSerializer } from '../auth/log-redaction.js'
import type { Config } from './config.js'
import { PUBSUB_ERR_OPTION } from '../protocol/errors.js'

/** A request id a proxy may hand over: short and plain, so it cannot forge log lines. */
const REQUEST_ID = /^[\w.:-]{1,64}$/

/**
 * The standalone server's logging and request identity: pino JSON lines, or
 * pino-pretty when asked for (`logPretty`) or, by default, when stdout is a
 * terminal and pino-pretty is installed (a dev dependency: production
 * installs skip it). Request ids are random (unique across workers); from a
 * trusted proxy (`trustProxy`), a plain `x-request-id` it set is kept, and
 * the client address is read from `x-forwarded-for` past the proxies.
 */
export function loggingOptions (config: Pick<Config, 'logLevel' | 'logPretty' | 'trustProxy'>, isTTY: boolean, hasPretty = installed('pino-pretty')): FastifyServerOptions {
  const trusted = proxyAddr.compile([...config.trustProxy])
  /** Whether the request came straight from a trusted proxy. */
  // String(): a socket already gone has no address, and 'undefined' is trusted by no list.
  const fromProxy = (request: IncomingMessage): boolean => trusted(String(request.socket.remoteAddress), 0)
  const pretty = config.logPretty ?? (isTTY && hasPretty)
  if (pretty && !hasPretty) throw new PUBSUB_ERR_OPTION('logPretty (LOG_PRETTY, --log-pretty)', true, 'pino-pretty installed: npm install --save-dev pino-pretty')
  return {
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      // Browsers send their token in the query (?token=): never in the logs.
      serializers: {
        req: requestSerializer
      },
      ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
    },
    // A list, not `true`: trusting every hop would let a client write the
    // address that X-Forwarded-For ends with when a proxy appends to it.
    trustProxy: config.trustProxy.length === 0 ? false : [...config.trustProxy],
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => {
      const given = fromProxy(request) ? request.headers['x-request-id'] : undefined
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

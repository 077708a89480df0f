import type { FastifyPluginAsync } from 'fastify'
// Brings @fastify/swagger's `hide` schema option into Fastify's types.
import type {} from '@fastify/swagger'
import { existsSync, readFileSync } from 'node:fs'
import { describeAsyncApi, withServers } from '../protocol/asyncapi.js'
import type { NamespaceOptions } from '../protocol/namespace.js'

export interface AsyncApiRouteOptions {
  /** The plugin's, for topics in no namespace and namespaces that do not set their own. */
  historySize: number
  historyTtl: number
  namespaces?: Readonly<Record<string, NamespaceOptions>>
}

// Two folders up from src/routes (tests) and dist/routes (built, installed),
// three from dist-bench/src/routes (the bench's build).
const packageJson = [new URL('../../package.json', import.meta.url), new URL('../../../package.json', import.meta.url)].find(existsSync) as URL
const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }

/**
 * `GET /asyncapi.json`: the WebSocket and SSE API as an AsyncAPI 3.0
 * document. Built once per app; only its servers come from each request
 * (host, and wss/https when the request came over TLS), so that tools
 * pointed at it reach the server they read it from.
 */
const asyncApiRoute: FastifyPluginAsync<AsyncApiRouteOptions> = async (fastify, { historySize, historyTtl, namespaces }) => {
  const description = describeAsyncApi({ version, namespaces, defaults: { historySize, historyTtl } })
  const prefix = fastify.prefix
  // Hidden from the OpenAPI document: it documents the REST API, and this is documentation.
  fastify.get('/asyncapi.json', { schema: { hide: true } }, async (request) => {
    return withServers(description, { host: request.host, secure: request.protocol === 'https', prefix })
  })
}

export default asyncApiRoute

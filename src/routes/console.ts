import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
// Brings @fastify/swagger's `hide` schema option into Fastify's types.
import type {} from '@fastify/swagger'
import { fileURLToPath } from 'node:url'

// Both the same from src/routes (tests) and dist/routes (built): the page and
// its styles live in public/; its script is compiled from src/console (with
// the client SDK it imports) into dist/browser by `npm run build`.
const publicDir = fileURLToPath(new URL('../../public/', import.meta.url))
const browserDir = fileURLToPath(new URL('../../dist/browser/', import.meta.url))

/** `GET /`: the web console, a static page that talks to `ws` next to it. */
const consoleRoute: FastifyPluginAsync = async (fastify) => {
  await fastify.register(fastifyStatic, {
    root: [publicDir, browserDir],
    // The host app may have its own @fastify/static with reply.sendFile.
    decorateReply: false
  })
  if (fastify.prefix !== '') {
    // `/realtime` → `/realtime/`, so that the page's relative `ws` URL resolves under the prefix.
    fastify.get('', { schema: { hide: true } }, async (request, reply) => {
      const query = request.url.indexOf('?')
      return await reply.redirect(`${fastify.prefix}/${query === -1 ? '' : request.url.slice(query)}`, 301)
    })
  }
}

export default consoleRoute

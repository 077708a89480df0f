import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/**
 * OpenAPI 3 from the REST routes' TypeBox schemas: the document at
 * `GET /docs/json`, Swagger UI at `GET /docs`. Registered before the routes so
 * that it sees them; skipped when the host app has its own @fastify/swagger,
 * which then documents our routes with its own.
 */
async function docsRoute (fastify: FastifyInstance): Promise<void> {
  if (fastify.hasDecorator('swagger')) return
  await fastify.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'fastify-pubsub',
        // The scope's prefix: the document is served beside these routes.
        description: `Publish over HTTP and read topic figures. The WebSocket and SSE API is described by the AsyncAPI 3.0 document at [${fastify.prefix}/asyncapi.json](${fastify.prefix}/asyncapi.json).`,
        version: '1'
      }
      // No externalDocs: the package is not published yet and the server does
      // not serve docs/, so every URL it could name would 404.
    }
  })
  await fastify.register(fastifySwaggerUi, { routePrefix: '/docs' })
}

// Not encapsulated: @fastify/swagger must sit in the scope of the routes it documents.
export default fp(docsRoute, { fastify: '5.x', name: 'fastify-pubsub-docs' })

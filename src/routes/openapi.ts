import type { SwaggerTransform } from '@fastify/swagger'
import type { FastifySchema } from 'fastify'

interface WildcardParams { properties: { '*': unknown } }

/**
 * A route's `config.swaggerTransform` (so it applies in a host app's own
 * @fastify/swagger too) for the routes whose topic is the wildcard rest of the
 * path (see schemas.ts): the document says `/publish/{topic}`, not
 * `/publish/{*}`, and Swagger UI's "Try it out" fills `topic` in. Only the
 * document changes; the route and its validation stay as they are.
 * `body`, when given, documents a body the route reads without a schema.
 */
export function topicInPath (body?: Record<string, unknown>): SwaggerTransform {
  return ({ schema, url }) => {
    const params = schema.params as WildcardParams
    const { '*': topic } = params.properties
    const documented: FastifySchema = {
      ...schema,
      params: { type: 'object', properties: { topic }, required: ['topic'] }
    }
    if (body !== undefined) documented.body = body
    return { schema: documented, url: url.replace(/\*$/, ':topic') }
  }
}

/** What `POST /publish/{topic}` reads: any JSON value, or text as a JSON string. */
export const PublishBody = {
  description: 'The message: any JSON value (application/json), or text/plain, published as a JSON string',
  content: {
    'application/json': { schema: { description: 'Any JSON value', example: { score: '2-1', minute: 78 } } },
    'text/plain': { schema: { type: 'string', example: 'goal!' } }
  }
}

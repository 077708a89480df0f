import type { FastifyInstance } from 'fastify'
// Brings `request.ws` and the `websocket` route option into Fastify's types.
import type {} from '@fastify/websocket'

/**
 * A WebSocket upgrade to a route of the scope that has no WebSocket handler
 * (`/realtime/wsx`, which the console's wildcard route matches) is answered
 * 404 by the not-found handler, before any upgrade.
 *
 * @fastify/websocket answers 404 only where no route matches at all (its
 * README: "it will respond with a 404 error on every unregistered route");
 * a route that matches but has no WebSocket handler is upgraded, then closed
 * without a code (`noHandle` in its index.js, 11.3.6): the client saw 101,
 * then 1005, and a `sub` with a wrong prefix waited forever. A route has to
 * match before it can be upgraded (fastify/fastify-websocket#238), so the
 * refusal belongs in an onRequest hook.
 */
export function refuseStrayUpgrades (scope: FastifyInstance): void {
  const upgradable = new Set<string>()
  scope.addHook('onRoute', (route) => {
    if (route.websocket === true || route.wsHandler !== undefined) upgradable.add(route.url)
  })
  // Callback style: once the not-found handler answers, no later hook or handler may run.
  scope.addHook('onRequest', function refuseStrayUpgrade (request, reply, done) {
    if (request.ws && !upgradable.has(request.routeOptions.url as string)) {
      reply.callNotFound()
      return
    }
    done()
  })
}

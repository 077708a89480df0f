// A fastify-pubsub node on a Redis engine, as the multi-node tests start them.
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import fastifyPubsub from '../../src/index.js'
import { RedisEngine, type RedisEngineOptions } from '../../src/pubsub/redis/engine.js'

/** A node: an app on its own port with a Redis engine under `prefix` (at `url`, or where `settings.sentinels` say); its engine is ready. */
export async function node (t: Test, url: string | undefined, prefix: string, settings: Partial<RedisEngineOptions> = {}): Promise<{ app: FastifyInstance, url: string, engine: RedisEngine }> {
  const engine = new RedisEngine({ url, keyPrefix: prefix, heartbeat: 500, timeout: 500, ...settings })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyPubsub, { engine })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await engine.whenConnected()
  return { app, engine, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

/** POST /publish/:topic with a JSON body (and an Idempotency-Key when given). */
export async function post (url: string, topic: string, data: unknown, key?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (key !== undefined) headers['idempotency-key'] = key
  return await fetch(`${url}/publish/${topic}`, { method: 'POST', headers, body: JSON.stringify(data) })
}

// fastify-pubsub: `import fastifyPubsub from 'fastify-pubsub'`, then
// `app.register(fastifyPubsub, { prefix: '/realtime' })`. The pieces are
// exported too, for apps that want only some of them.
export { default, default as fastifyPubsub } from './app.js'
export { resolveOptions, type PubsubOptions, type RedisEngineConfig, type ResolvedOptions } from './options.js'
export { default as pubsubPlugin, type PubsubPluginOptions } from './plugins/pubsub.js'
export { default as sseRoute, type SseRouteOptions } from './routes/sse.js'
export { default as wsRoute, type WsRouteOptions } from './routes/ws.js'
export { default as publishRoute, type PublishRouteOptions } from './routes/publish.js'
export { default as topicsRoute } from './routes/topics.js'
export { default as healthRoute } from './routes/health.js'
export { default as consoleRoute } from './routes/console.js'
export * from './pubsub/index.js'

// What subscriptions cost (issue 14), measured rather than guessed:
//
//   npm run build && npx tsc -p tsconfig.bench.json
//   node --expose-gc dist-bench/bench/subscription-cost.js memory [tokens] [sessions] [patterns]
//   node --expose-gc dist-bench/bench/subscription-cost.js publish [connections] [patterns] [tokens]
//
// `memory`: heap per subscription after gc, for `sessions` in-process
// sessions of `patterns` random patterns each, 255 bytes long and of `tokens`
// tokens (128 is the shape; limits are raised to admit it).
// `publish`: the worst case for one publish: `connections` WebSocket clients,
// each holding `patterns` subscriptions: distinct patterns of at most `tokens` tokens
// that all match one topic; prints how long one publish to it holds the event
// loop (the synchronous fan-out) and how long another client's ping waits,
// beside the same for a topic each client holds one exact subscription to.
import Fastify from 'fastify'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import fastifyPubsub from '../src/app.js'
import { Broker } from '../src/pubsub/broker.js'
import type { BrokerOptions } from '../src/pubsub/options.js'

const [mode = 'memory', ...rest] = process.argv.slice(2)
const arg = (i: number, fallback: number): number => rest[i] === undefined ? fallback : Number(rest[i])
const gc = (globalThis as { gc?: () => void }).gc ?? (() => { throw new Error('run with node --expose-gc') })

// Options a build without the new limits ignores, so that one script measures before and after.
const unlimited = { maxSubscriptions: 100_000, maxPatternTokens: 128, maxSubscriptionBytes: 2 ** 40 } as BrokerOptions

let seed = 14
function random (): number {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'

/** A random pattern of `tokens` tokens and `bytes` bytes, ending in `*` so that it is one. */
function randomPattern (tokens: number, bytes: number): string {
  const letters = bytes - (tokens - 1) - 1
  const parts: string[] = []
  for (let i = 0; i < tokens - 1; i++) {
    const length = Math.floor(letters / (tokens - 1)) + (i < letters % (tokens - 1) ? 1 : 0)
    let token = ''
    for (let j = 0; j < length; j++) token += ALPHABET[Math.floor(random() * ALPHABET.length)] as string
    parts.push(token)
  }
  return [...parts, '*'].join('.')
}

async function memory (): Promise<void> {
  const tokens = arg(0, 128)
  const sessions = arg(1, 20)
  const patterns = arg(2, 1000)
  const broker = new Broker(unlimited)
  const held = []
  gc()
  const before = process.memoryUsage().heapUsed
  for (let s = 0; s < sessions; s++) {
    const session = broker.connect({ deliver () {} })
    held.push(session)
    for (let p = 0; p < patterns; p++) await session.subscribe(randomPattern(tokens, 255))
  }
  gc()
  const after = process.memoryUsage().heapUsed
  const count = sessions * patterns
  console.log(`${count.toLocaleString('en')} subscriptions of 255 bytes, ${tokens} tokens: ${Math.round((after - before) / count).toLocaleString('en')} bytes of heap each (${((after - before) / 2 ** 20).toFixed(1)} MiB)`)
  await broker.close()
}

/** The `i`th distinct pattern matching the topic `t.t.…` of `tokens` tokens: `*` or `t` at each position, or a prefix and `>`. */
function matchingPattern (i: number, tokens: number): string {
  const full = 2 ** tokens
  const [length, bits, tail] = i < full ? [tokens, i, []] : [Math.floor(Math.log2(i - full + 1)), i - full + 1, ['>']]
  const parts: string[] = []
  for (let k = 0; k < length; k++) parts.push((bits >> k) & 1 ? '*' : 't')
  return [...parts, ...tail].join('.')
}

async function eventually (check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve))
}

async function publish (): Promise<void> {
  const connections = arg(0, 200)
  const patterns = arg(1, 1000)
  const tokens = arg(2, 16)
  const distinct = 2 ** (tokens + 1) - 1
  const topic = Array.from({ length: tokens }, () => 't').join('.')
  const app = Fastify()
  await app.register(fastifyPubsub, { console: false, docs: false, metrics: false, maxConnections: connections + 10 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws`
  let received = 0
  let next = 0
  const clients: WebSocket[] = []
  for (let c = 0; c < connections; c++) {
    const ws = new WebSocket(url)
    clients.push(ws)
    await once(ws, 'open')
    let acks = 0
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string }
        if (frame.type === 'ack' && ++acks === patterns) resolve()
        if (frame.type === 'message') received++
      })
    })
    // One exact subscription to another topic, for the comparison below; then
    // distinct patterns, shared out in turn (index 0, all literals, is the topic itself).
    ws.send(JSON.stringify({ action: 'subscribe', topic: 'plain' }))
    for (let p = 1; p < patterns; p++) ws.send(JSON.stringify({ action: 'subscribe', topic: matchingPattern(1 + (next++ % (distinct - 1)), tokens) }))
    await done
  }
  const pinger = new WebSocket(url)
  await once(pinger, 'open')
  const counts = app.pubsub.counts()
  console.log(`${connections} connections x ${patterns} patterns of <= ${tokens} tokens matching ${topic}: ${counts.patterns.toLocaleString('en')} distinct patterns, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`)
  const measure = async (to: string): Promise<{ blocks: number[], pings: number[] }> => {
    const blocks: number[] = []
    const pings: number[] = []
    for (let round = 0; round < 7; round++) {
      received = 0
      const pong = once(pinger, 'message')
      const pinged = performance.now()
      pinger.send(JSON.stringify({ action: 'ping', id: round }))
      // Let the ping reach the server's socket first, then publish: the pong waits behind the fan-out.
      await new Promise((resolve) => setImmediate(resolve))
      const started = performance.now()
      const published = app.pubsub.publish(to, { round })
      blocks.push(performance.now() - started)
      await published
      await pong
      pings.push(performance.now() - pinged)
      await eventually(() => received === connections)
    }
    return { blocks, pings }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[3] as number
  const fmt = (xs: number[]): string => `first ${(xs[0] as number).toFixed(1)} ms, median ${median(xs).toFixed(1)} ms`
  const plain = await measure('plain')
  const worst = await measure(topic)
  console.log(`through patterns: one publish holds the event loop ${fmt(worst.blocks)}; another client's ping round trip ${fmt(worst.pings)}`)
  // The same connections reached through one exact subscription each: the fan-out's own cost.
  console.log(`one exact subscription each: ${fmt(plain.blocks)}; ping ${fmt(plain.pings)}; ratio of medians ${(median(worst.blocks) / median(plain.blocks)).toFixed(1)}`)
  for (const ws of [...clients, pinger]) ws.terminate()
  await app.close()
}

await (mode === 'memory' ? memory() : publish())

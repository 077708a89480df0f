// Turns the rows of one run into docs/performance.md and its SVG chart.
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { versionOf } from './servers.js'

export interface Row {
  scenario: string
  server: string
  result?: Record<string, any>
  error?: string
}

/** A generator above this share of its core may be what limits a max-rate figure. */
const GENERATOR_BOUND_PCT = 90
const OURS = 'fastify-pubsub'
const REFERENCE = 'raw-ws'

function packageVersion (name: string): string {
  return (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version
}

const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a'
const ms = (us: number): string => fmt(us / 1000, 2)

function find (rows: Row[], scenario: string, server: string): Record<string, any> | undefined {
  return rows.find((r) => r.scenario === scenario && r.server === server)?.result
}

/** A target without a limit is reported, not judged. */
interface Target { name: string, value: number, limit?: number, better: 'lower' | 'higher', detail: string }

function targets (rows: Row[]): Target[] {
  const out: Target[] = []
  const ratio = (scenario: string, key: string, server = OURS, reference = REFERENCE): number => {
    const a = find(rows, scenario, server)?.[key]
    const b = find(rows, scenario, reference)?.[key]
    return typeof a === 'number' && typeof b === 'number' ? a / b : NaN
  }
  const heavy = 'heavy fan-out: 1,000 subs x 500/s, 64 B'
  const light = 'light fan-out: 100 subs x 500/s, 64 B'
  const lost = find(rows, heavy, OURS)?.lost
  out.push({ name: 'heavy fan-out: loss', value: typeof lost === 'number' ? lost : NaN, limit: 0, better: 'lower', detail: 'messages' })
  out.push({ name: 'heavy fan-out: CPU per delivery vs raw-ws', value: ratio(heavy, 'cpuPerDeliveryUs'), limit: 0.4, better: 'lower', detail: 'ratio' })
  out.push({ name: 'heavy fan-out: CPU per delivery, socket.io vs ours', value: ratio(heavy, 'cpuPerDeliveryUs', 'socket.io', OURS), limit: 3, better: 'higher', detail: 'ratio' })
  out.push({ name: 'max rate, 1,000 subs: deliveries/s vs raw-ws', value: ratio('max rate: 1,000 subs, 64 B', 'deliveriesPerSec'), limit: 3, better: 'higher', detail: 'ratio' })
  out.push({ name: 'light fan-out: CPU per delivery vs raw-ws', value: ratio(light, 'cpuPerDeliveryUs'), limit: 1, better: 'lower', detail: 'ratio' })
  const p99 = (server: string): number => find(rows, light, server)?.latencyUs?.p99 ?? NaN
  out.push({ name: 'light fan-out: p99 latency vs raw-ws', value: p99(OURS) / p99(REFERENCE), limit: 1, better: 'lower', detail: 'ratio' })
  const manyTopics = 'many topics: 1,000 x 1 sub, max rate'
  out.push({ name: 'many topics: deliveries/s vs raw-ws', value: ratio(manyTopics, 'deliveriesPerSec'), limit: 1, better: 'higher', detail: 'ratio' })
  out.push({ name: 'many topics: CPU per delivery vs raw-ws', value: ratio(manyTopics, 'cpuPerDeliveryUs'), limit: 1, better: 'lower', detail: 'ratio' })
  out.push({ name: 'many topics, 5,000/s: CPU per delivery vs raw-ws', value: ratio('many topics: 1,000 x 1 sub, 5,000/s', 'cpuPerDeliveryUs'), limit: 1, better: 'lower', detail: 'ratio' })
  out.push({ name: 'max rate, 100 subs: CPU per delivery vs nats', value: ratio('max rate: 100 subs, 64 B', 'cpuPerDeliveryUs', OURS, 'nats'), limit: 1, better: 'lower', detail: 'ratio' })
  const publishCost = (name: string): number => find(rows, `in-process: ${name}`, OURS)?.nsPerPublish ?? NaN
  out.push({ name: 'wildcards: publish cost, 10,000 unrelated patterns vs none (in-process)', value: publishCost('the same, with 10,000 unrelated patterns') / publishCost('publish to 100 pattern subscribers'), limit: 1.2, better: 'lower', detail: 'ratio' })
  out.push({ name: 'metrics: publish cost to 1 subscriber, on vs off (in-process)', value: publishCost('publish to 1 subscriber, metrics on') / publishCost('publish to 1 subscriber, metrics off'), limit: 1.2, better: 'lower', detail: 'ratio' })
  out.push({ name: 'REST publish: requests/s vs bare Fastify', value: ratio('REST publish, no subscribers', 'requestsPerSec', OURS, 'bare-fastify'), limit: 0.9, better: 'higher', detail: 'ratio' })
  const rest100 = find(rows, 'REST publish, 100 subscribers', OURS)?.requestsPerSec
  const bare = find(rows, 'REST publish, no subscribers', 'bare-fastify')?.requestsPerSec
  out.push({ name: 'REST publish, 100 subscribers: requests/s vs bare Fastify', value: typeof rest100 === 'number' && typeof bare === 'number' ? rest100 / bare : NaN, better: 'higher', detail: 'ratio' })
  const idle = (scenario: string, server: string, at: string): void => {
    const r = find(rows, scenario, server)
    const number = (value: unknown): number => typeof value === 'number' ? value : NaN
    out.push({ name: `idle: RSS per connection at ${at}`, value: number(r?.rssPerConnectionBytes) / 1024, limit: 6, better: 'lower', detail: 'KiB' })
    out.push({ name: `idle: connect rate at ${at}`, value: number(r?.connectPerSec), better: 'higher', detail: 'connections/s' })
    out.push({ name: `idle: publish to all ${at}, p99`, value: number(r?.publishLatencyUs?.p99) / 1000, better: 'lower', detail: 'ms' })
    out.push({ name: `idle: publish to all ${at}, lost`, value: number(r?.lost), limit: 0, better: 'lower', detail: 'deliveries' })
  }
  const engines = 'engines: many topics, 1,000 x 1 sub, max rate'
  const onRedis = 'fastify-pubsub (Redis)'
  const onCluster = 'fastify-pubsub (Redis Cluster, 3 shards)'
  const redisPerPublish = (server: string): number => find(rows, engines, server)?.redisCpuPerPublishUs ?? NaN
  out.push({ name: 'engines, many topics: CPU per delivery, one Redis vs in-memory', value: ratio(engines, 'cpuPerDeliveryUs', onRedis, OURS), limit: 1.5, better: 'lower', detail: 'ratio' })
  out.push({ name: 'engines, many topics: CPU per delivery, 3-shard cluster vs in-memory', value: ratio(engines, 'cpuPerDeliveryUs', onCluster, OURS), better: 'lower', detail: 'ratio' })
  out.push({ name: 'engines, many topics: Redis CPU per publish, one Redis', value: redisPerPublish(onRedis), limit: 5, better: 'lower', detail: 'µs' })
  out.push({ name: 'engines, many topics: Redis CPU per publish, 3-shard cluster vs one Redis', value: redisPerPublish(onCluster) / redisPerPublish(onRedis), better: 'lower', detail: 'ratio' })
  idle('idle: 19,500 subscribed connections', OURS, '19,500')
  idle('idle: 39,000 subscribed connections, --workers 2 on Redis', 'fastify-pubsub --workers 2 (Redis)', '39,000 (--workers 2)')
  return out
}

function machine (): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `${cpus().length} cores (${cpu}), ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ${process.platform}`
}

export function renderReport (rows: Row[], run: { durationMs: number, elapsedS: number }): { markdown: string, svg: string } {
  const lines: string[] = []
  lines.push('# Performance', '')
  lines.push('Generated by `npm run bench` (bench/run.ts); do not edit by hand. Each server runs',
    'pinned to core 0, the load generator (bench/generator.ts, one process) to core 1.',
    'Absolute figures drift from run to run on this shared machine: compare within',
    'one run. **CPU/delivery** is the server\'s user + system CPU time from',
    '/proc/PID/stat over the measured phase, divided by the deliveries in it.', '')
  lines.push(`- Run: ${new Date().toISOString().slice(0, 10)}, ${run.durationMs / 1000} s measured per scenario after a 1 s warm-up; whole run ${run.elapsedS} s.`)
  lines.push(`- Machine: ${machine()}.`)
  lines.push(`- Servers: fastify-pubsub ${packageVersion('fastify')} (fastify) / ws ${packageVersion('ws')}; raw-ws reference (bench/servers/raw-ws.ts); socket.io ${packageVersion('socket.io')}; mosquitto ${versionOf('mosquitto')} (websockets listener, clients mqtt.js ${packageVersion('mqtt')}); nats-server ${versionOf('nats')} (websocket block, clients @nats-io/nats-core ${packageVersion('@nats-io/nats-core')}).`)
  lines.push('')
  lines.push('![CPU per delivery and latency](performance.svg)', '')

  lines.push('## Targets', '', '| target | measured | limit | met |', '| --- | --- | --- | --- |')
  for (const target of targets(rows)) {
    const { limit } = target
    const met = limit === undefined || Number.isNaN(target.value) ? 'n/a' : (target.better === 'lower' ? target.value <= limit : target.value >= limit) ? 'yes' : '**no**'
    const bound = limit === undefined ? 'reported' : `${target.better === 'lower' ? '<=' : '>='} ${limit}`
    lines.push(`| ${target.name} | ${fmt(target.value, 2)} ${target.detail} | ${bound} | ${met} |`)
  }
  lines.push('')

  lines.push('## Fan-out', '', '| scenario | server | deliveries/s | lost | p50 ms | p99 ms | max ms | server CPU | CPU/delivery µs | vs raw-ws | generator CPU |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const row of rows) {
    const r = row.result
    if (row.error !== undefined) { lines.push(`| ${row.scenario} | ${row.server} | failed: ${row.error} | | | | | | | | |`); continue }
    // Shown under Engines.
    if (r === undefined || r.latencyUs === undefined || row.scenario.startsWith('engines:')) continue
    const ref = find(rows, row.scenario, REFERENCE)?.cpuPerDeliveryUs
    const vs = typeof ref === 'number' ? fmt(r.cpuPerDeliveryUs / ref, 2) : ''
    const bound = r.generatorCpuPct >= GENERATOR_BOUND_PCT ? ' (generator-bound)' : ''
    lines.push(`| ${row.scenario} | ${row.server} | ${fmt(r.deliveriesPerSec)} | ${fmt(r.lost)} | ${ms(r.latencyUs.p50)} | ${ms(r.latencyUs.p99)} | ${ms(r.latencyUs.max)} | ${r.serverCpuPct}% | ${fmt(r.cpuPerDeliveryUs, 2)} | ${vs} | ${r.generatorCpuPct}%${bound} |`)
  }
  lines.push('', 'A max-rate run publishes as fast as the slowest subscriber keeps up (a window of',
    'in-flight messages). "generator-bound" marks a run whose generator used over',
    `${GENERATOR_BOUND_PCT}% of its core: there the figure is the generator's ceiling, not the server's.`, '')

  lines.push('## Engines', '', 'One node on each engine (Redis on the server core too, its CPU apart).', '',
    '| scenario | server | deliveries/s | lost | p99 ms | CPU/delivery µs | vs in-memory | Redis CPU/publish µs |', '| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const row of rows) {
    const r = row.result
    if (!row.scenario.startsWith('engines:') || r?.latencyUs === undefined) continue
    const memory = find(rows, row.scenario, OURS)?.cpuPerDeliveryUs
    const vs = typeof memory === 'number' ? fmt(r.cpuPerDeliveryUs / memory, 2) : ''
    lines.push(`| ${row.scenario} | ${row.server} | ${fmt(r.deliveriesPerSec)} | ${fmt(r.lost)} | ${ms(r.latencyUs.p99)} | ${fmt(r.cpuPerDeliveryUs, 2)} | ${vs} | ${r.redisCpuPerPublishUs === undefined ? '' : fmt(r.redisCpuPerPublishUs, 2)} |`)
  }
  lines.push('')

  lines.push('## In-process broker', '', '| scenario | ns per publish |', '| --- | --- |')
  for (const row of rows) {
    if (row.result?.nsPerPublish === undefined) continue
    lines.push(`| ${row.scenario.replace('in-process: ', '')} | ${fmt(row.result.nsPerPublish)} |`)
  }
  lines.push('', 'bench/broker.ts: 200,000 publishes to 100 no-op subscribers of `bench.*`, median of 5 alternating rounds.', '')

  lines.push('## REST publish', '', '| scenario | server | requests/s | errors | non-2xx | server CPU |', '| --- | --- | --- | --- | --- | --- |')
  for (const row of rows) {
    const r = row.result
    if (r?.requestsPerSec === undefined) continue
    lines.push(`| ${row.scenario} | ${row.server} | ${fmt(r.requestsPerSec)} | ${r.errors} | ${r.non2xx} | ${r.serverCpuPct}% |`)
  }
  lines.push('', 'autocannon, 32 connections, a 50-byte JSON body.', '')

  lines.push('## Idle connections', '', '| scenario | server | RSS before MiB | RSS after MiB | RSS per connection KiB | kernel per socket KiB | connect/s | publish p50 ms | p99 ms | max ms | lost |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  const redis: string[] = []
  for (const row of rows) {
    const r = row.result
    if (r?.rssPerConnectionBytes === undefined) continue
    const publish = r.publishLatencyUs ?? { p50: NaN, p99: NaN, max: NaN }
    lines.push(`| ${row.scenario} | ${row.server} | ${fmt(r.rssBeforeBytes / 2 ** 20, 1)} | ${fmt(r.rssAfterBytes / 2 ** 20, 1)} | ${fmt(r.rssPerConnectionBytes / 1024, 2)} | ${fmt(r.kernelPerSocketBytes / 1024, 2)} | ${fmt(r.connectPerSec)} | ${ms(publish.p50)} | ${ms(publish.p99)} | ${ms(publish.max)} | ${fmt(r.lost)} |`)
    if (r.redisRssAfterBytes !== undefined) {
      redis.push(`${row.scenario}: redis-server ${fmt(r.redisRssBeforeBytes / 2 ** 20, 1)} MiB before, ${fmt(r.redisRssAfterBytes / 2 ** 20, 1)} MiB after;`,
        `RSS of the primary and each worker, MiB: ${(r.rssPerProcessBytes.before as number[]).map((b) => fmt(b / 2 ** 20, 1)).join(', ')} before, ${(r.rssPerProcessBytes.after as number[]).map((b) => fmt(b / 2 ** 20, 1)).join(', ')} after;`,
        `sockets held by the primary and each worker: ${(r.socketsPerProcess as number[]).map((n) => fmt(n)).join(', ')};`,
        `upgrades refused with 503 (a worker full before the other: round-robin hands each connection to a free worker, not strictly in turn) and tried again: ${fmt(r.refused)}.`)
    }
  }
  lines.push('', 'Every connection subscribed to a topic of its own and to `idle.all`; the publisher is one of',
    'them. RSS is read after the server collected garbage (Node servers run with --expose-gc and',
    'collect on SIGUSR2: bench/lib/gc-on-signal.ts); with `--workers`, it is the sum over the primary',
    'and its workers. **connect/s**: connections opened and subscribed (twice) per second of wall',
    'time, by child processes of the generator that each stay under their own open-files limit.',
    '**kernel per socket**: growth of the kernel\'s slab caches and TCP buffer pages',
    '(/proc/meminfo, /proc/net/sockstat) per socket, both ends being on this machine; other work',
    'on the machine moves it. **publish**: 5 publishes to `idle.all`, each once the previous one',
    'reached every connection; latency of every delivery.', ...redis, '')
  lines.push('Notes: mosquitto 2.0.11 from Debian serves websockets through libwebsockets',
    'without external-poll support (mosquitto#2284), which its maintainer warns adds latency;',
    'it needs a plain MQTT listener beside the websockets one to start.', '')
  return { markdown: lines.join('\n'), svg: chart(rows) }
}

function chart (rows: Row[]): string {
  const width = 900
  const height = 340
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>']
  const colors: Record<string, string> = { 'fastify-pubsub': '#1f77b4', 'raw-ws': '#7f7f7f', 'socket.io': '#d62728', mosquitto: '#9467bd', nats: '#2ca02c' }

  // Left: CPU per delivery in heavy fan-out.
  const heavy = rows.filter((r) => r.scenario.startsWith('heavy fan-out') && r.result !== undefined)
  const maxCpu = Math.max(1, ...heavy.map((r) => r.result?.cpuPerDeliveryUs as number))
  parts.push('<text x="20" y="24" font-size="14" font-weight="bold">Server CPU per delivery, µs (1,000 subs x 500/s)</text>')
  heavy.forEach((r, i) => {
    const value = r.result?.cpuPerDeliveryUs as number
    const y = 50 + i * 50
    const w = Math.max(1, (value / maxCpu) * 260)
    parts.push(`<text x="20" y="${y + 20}">${r.server}</text>`)
    parts.push(`<rect x="130" y="${y + 6}" width="${w.toFixed(1)}" height="22" fill="${colors[r.server] ?? '#333'}"/>`)
    parts.push(`<text x="${(136 + w).toFixed(1)}" y="${y + 22}">${fmt(value, 2)}</text>`)
  })

  // Right: p99 latency against publish rate, 1,000 subscribers.
  const x0 = 500
  const y0 = 290
  const plotW = 360
  const plotH = 230
  parts.push(`<text x="${x0 - 20}" y="24" font-size="14" font-weight="bold">p99 latency, ms (log), vs publishes/s (1,000 subs)</text>`)
  const series = new Map<string, Array<[number, number]>>()
  for (const r of rows) {
    const match = /^(?:heavy )?fan-out: 1,000 subs x ([\d,]+)\/s, 64 B$/.exec(r.scenario)
    if (match === null || r.result?.latencyUs === undefined) continue
    const points = series.get(r.server) ?? []
    points.push([Number(match[1]?.replace(',', '')), r.result.latencyUs.p99 / 1000])
    series.set(r.server, points)
  }
  const maxRate = 1000
  // Log scale: the servers' p99 latencies differ by orders of magnitude.
  const maxLatency = Math.max(10, ...[...series.values()].flat().map(([, l]) => l))
  const decades = Math.ceil(Math.log10(maxLatency))
  const y = (latency: number): number => y0 - (Math.log10(Math.max(1, latency)) / decades) * plotH
  parts.push(`<line x1="${x0}" y1="${y0}" x2="${x0 + plotW}" y2="${y0}" stroke="#333"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 - plotH}" stroke="#333"/>`)
  for (const rate of [0, 250, 500, 750, 1000]) parts.push(`<text x="${x0 + (rate / maxRate) * plotW - 10}" y="${y0 + 16}">${rate}</text>`)
  for (let d = 0; d <= decades; d++) parts.push(`<text x="${x0 - 44}" y="${y(10 ** d) + 4}">${fmt(10 ** d)}</text><line x1="${x0}" y1="${y(10 ** d)}" x2="${x0 + plotW}" y2="${y(10 ** d)}" stroke="#eee"/>`)
  let legendY = 50
  for (const [server, points] of series) {
    points.sort((a, b) => a[0] - b[0])
    const path = points.map(([rate, latency]) => `${(x0 + (rate / maxRate) * plotW).toFixed(1)},${y(latency).toFixed(1)}`).join(' ')
    const color = colors[server] ?? '#333'
    parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>`)
    for (const point of path.split(' ')) { const [cx, cy] = point.split(','); parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`) }
    parts.push(`<rect x="${x0 + 20}" y="${legendY - 9}" width="10" height="10" fill="${color}"/><text x="${x0 + 35}" y="${legendY}">${server}</text>`)
    legendY += 16
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

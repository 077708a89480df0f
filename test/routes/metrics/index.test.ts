import t from 'tap'
import { build, connectWelcomed, eventually, listen } from '../../helper.js'

/** The value of one sample in Prometheus text, e.g. `pubsub_deliveries_total` or `pubsub_errors_total{code="BAD_JSON"}`. */
function sample (text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

t.test('GET /metrics moves exactly with the traffic', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 64 * 1024 })
  const scrape = async (): Promise<string> => {
    const res = await app.inject('/metrics')
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /text\/plain/)
    return res.body
  }
  const before = await scrape()
  t.equal(sample(before, 'pubsub_connections'), 0)
  t.equal(sample(before, 'pubsub_deliveries_total'), 0)
  t.ok(sample(before, 'process_cpu_user_seconds_total') !== undefined, 'with the default process metrics')

  const a = await connectWelcomed(t, url)
  const b = await connectWelcomed(t, url)
  await a.subscribe('m.1')
  await b.subscribe('m.*')
  await b.subscribe('m.1')
  a.send({ action: 'publish', topic: 'm.1', message: 1, id: 1 })
  await a.take(2)
  await app.inject({ method: 'POST', url: '/publish/m.2', payload: [2] })
  await app.pubsub.publish('m.1', 3)
  a.send('not json')
  a.send({ action: 'subscribe', topic: '' })
  await a.take(3)
  await app.inject({ method: 'POST', url: '/publish/m.*', payload: [4] })

  const after = await scrape()
  t.equal(sample(after, 'pubsub_connections'), 2)
  t.equal(sample(after, 'pubsub_subscriptions'), 3)
  t.equal(sample(after, 'pubsub_topics'), 1)
  t.equal(sample(after, 'pubsub_patterns'), 1)
  t.equal(sample(after, 'pubsub_messages_published_total{transport="ws"}'), 1)
  t.equal(sample(after, 'pubsub_messages_published_total{transport="http"}'), 1)
  t.equal(sample(after, 'pubsub_messages_published_total{transport="app"}'), 1)
  t.equal(sample(after, 'pubsub_deliveries_total'), 2 + 1 + 2, 'm.1 twice to a and b, m.2 once to b')
  t.equal(sample(after, 'pubsub_errors_total{code="BAD_JSON"}'), 1)
  t.equal(sample(after, 'pubsub_errors_total{code="INVALID_TOPIC"}'), 1)
  t.equal(sample(after, 'pubsub_errors_total{code="PUBSUB_ERR_INVALID_TOPIC"}'), 1, 'HTTP errors by their full code')
  t.equal(sample(after, 'pubsub_slow_consumer_disconnects_total'), 0)
  t.equal(sample(after, 'pubsub_deliveries_dropped_total'), 0)
  t.equal(sample(after, 'pubsub_engine_ready'), 1)
  t.equal(sample(after, 'pubsub_publish_to_fanout_seconds_count'), 3, 'one latency per message that reached someone')
  t.equal(sample(after, 'pubsub_publish_to_fanout_seconds_bucket{le="+Inf"}'), 3)
  const latency = sample(after, 'pubsub_publish_to_fanout_seconds_sum') as number
  t.ok(latency > 0 && latency < 3 * 60, `latency sum ${latency} s is plausible`)
  t.equal(sample(after, 'pubsub_topic_published_total{topic="m.1"}'), undefined, 'no per-topic metrics by default')

  a.close()
  await eventually(async () => sample(await scrape(), 'pubsub_connections') === 1)
})

t.test('slow consumers and rate-limited frames are counted', async (t) => {
  const { app, url } = await listen(t, { rateLimit: { rate: 1, burst: 1 } })
  const c = await connectWelcomed(t, url)
  c.send({ action: 'ping', id: 1 })
  c.send({ action: 'ping', id: 2 })
  t.match(await c.take(2), [{ type: 'pong' }, { code: 'RATE_LIMITED', id: 2 }])
  const text = (await app.inject('/metrics')).body
  t.equal(sample(text, 'pubsub_rate_limited_frames_total'), 1)
  t.equal(sample(text, 'pubsub_errors_total{code="RATE_LIMITED"}'), 1)
})

t.test('dropped frames: a slow consumer\'s queue is counted', async (t) => {
  const { app, url } = await listen(t, { maxBufferedBytes: 1 })
  const c = await connectWelcomed(t, url)
  await c.subscribe('d')
  // Same turn: the first frame is queued, the second finds it over the bound
  // (dropped), and the 1013 discards the first (dropped).
  void app.pubsub.publish('d', 1)
  void app.pubsub.publish('d', 2)
  await c.closed
  const text = (await app.inject('/metrics')).body
  t.equal(sample(text, 'pubsub_slow_consumer_disconnects_total'), 1)
  t.equal(sample(text, 'pubsub_deliveries_dropped_total'), 2)
  t.equal(sample(text, 'pubsub_deliveries_total'), 2, 'both were handed to the connection')
})

t.test('metricsTopics labels the first N topics and counts the rest as (other)', async (t) => {
  const app = await build(t, { metricsTopics: 2 })
  await app.pubsub.subscribe('t.*', () => {})
  for (const topic of ['t.a', 't.b', 't.a', 't.c', 't.d']) await app.pubsub.publish(topic, 1)
  await app.pubsub.publish('u', 1)
  const text = (await app.inject('/metrics')).body
  t.equal(sample(text, 'pubsub_topic_published_total{topic="t.a"}'), 2)
  t.equal(sample(text, 'pubsub_topic_published_total{topic="t.b"}'), 1)
  t.equal(sample(text, 'pubsub_topic_published_total{topic="(other)"}'), 3, 't.c, t.d and u')
  t.equal(sample(text, 'pubsub_topic_deliveries_total{topic="t.a"}'), 2)
  t.equal(sample(text, 'pubsub_topic_deliveries_total{topic="(other)"}'), 2, 'u reached nobody')
  t.equal(text.match(/^pubsub_topic_published_total\{/gm)?.length, 3, 'three series, whatever the topics')
  await t.rejects(build(t, { metricsTopics: -1 }), { code: 'PUBSUB_ERR_OPTION', message: /metricsTopics/ })
})

t.test('pubsub_engine_ready is 0 once the broker cannot take work', async (t) => {
  const app = await build(t)
  await app.pubsub.close()
  t.equal(sample((await app.inject('/metrics')).body, 'pubsub_engine_ready'), 0)
})

t.test('metrics: false serves none', async (t) => {
  const app = await build(t, { metrics: false })
  t.equal((await app.inject('/metrics')).statusCode, 404)
})

t.test('process_cpu_seconds_total is the process\'s whole CPU time, from the first scrape on', async (t) => {
  const app = await build(t)
  const seconds = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1e6
  // Loading tap and the TypeScript sources took far more CPU than a scrape does.
  const before = process.cpuUsage()
  const text = (await app.inject('/metrics')).body
  const after = process.cpuUsage()
  const total = sample(text, 'process_cpu_seconds_total') as number
  t.ok(seconds(before) > 0.1, `the test process had used ${seconds(before)} s`)
  t.ok(total >= seconds(before) && total <= seconds(after), `${total} s reported, ${seconds(before)} to ${seconds(after)} s used`)
  const user = sample(text, 'process_cpu_user_seconds_total') as number
  t.ok(user >= before.user / 1e6 && user <= after.user / 1e6, 'user time too')
  const system = sample(text, 'process_cpu_system_seconds_total') as number
  t.ok(system >= before.system / 1e6 && system <= after.system / 1e6, 'system time too')
  t.equal(text.match(/^process_cpu_seconds_total /gm)?.length, 1, 'one sample, not prom-client\'s as well')
})

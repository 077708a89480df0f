import t from 'tap'
import { isOriginList, normalizeOrigins, sameHost } from '../../src/auth/origins.js'

t.test('origins are normalized as browsers send them', async (t) => {
  t.same(normalizeOrigins(undefined), [])
  t.same(normalizeOrigins(['https://App.example.com/', 'http://a.example:80', '*']), ['https://app.example.com', 'http://a.example', '*'])
  for (const bad of ['https://a.example', [42], ['null'], ['https://a.example/path'], ['https://a.example?x'], ['not an origin'], ['https://*.example.com']]) {
    t.throws(() => normalizeOrigins(bad), { code: 'PUBSUB_ERR_OPTION', message: /allowedOrigins.*no wildcard subdomain/ }, JSON.stringify(bad))
    t.notOk(isOriginList(bad))
  }
  t.ok(isOriginList(['https://a.example']))
})

t.test('sameHost: the serialized origin of the host connected to', async (t) => {
  t.ok(sameHost('http://127.0.0.1:8080', '127.0.0.1:8080'))
  t.notOk(sameHost('http://127.0.0.1:8080/', '127.0.0.1:8080'), 'not serialized')
  t.notOk(sameHost('http://evil.example', '127.0.0.1:8080'))
  t.notOk(sameHost('garbage', '127.0.0.1:8080'))
  t.notOk(sameHost('http://127.0.0.1:8080', undefined))
})

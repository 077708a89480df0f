import { readFileSync } from 'node:fs'
import t from 'tap'
import { renderConfigurationDoc } from '../../src/server/config-doc.js'

t.test('docs/configuration.md is what src/server/settings.ts renders', async (t) => {
  const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  t.ok(committed === renderConfigurationDoc(), 'docs/configuration.md is stale: run `npm run docs:config` and commit it')
})

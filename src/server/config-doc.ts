// Renders docs/configuration.md from src/server/settings.ts and the plugin's
// options schema (src/options-schema.ts): `npm run docs:config`.
// test/config-doc.test.ts fails when the file is stale.
import type { TSchema } from 'typebox'
import { allowed as optionAllowed, PubsubOptionsSchema, type OptionMeta } from '../options-schema.js'
import { allowed, CONFIG_FILE, defaultText, envName, flagName, SETTINGS, type Section, type SettingKey } from './settings.js'

/** Each section's heading, with the page that tells more. */
export const SECTIONS: Record<Section, string> = {
  server: 'Server',
  redis: 'Redis engine ([scaling.md](scaling.md))',
  auth: 'Authentication ([auth.md](auth.md))',
  limits: 'Limits ([limits.md](limits.md))',
  features: 'Routes and metrics ([operations.md](operations.md))',
  pressure: 'Load shedding ([operations.md](operations.md#load-shedding))'
}

const INTRO = `# Configuration

<!-- Generated from src/server/settings.ts and src/options-schema.ts by \`npm run docs:config\`: edit there. -->

The standalone server (\`npm start\`, or \`npx fastify-pubsub\`) reads every
setting from the first place that has it:

1. a command-line flag: \`fastify-pubsub --port 9000\` (through npm:
   \`npm start -- --port 9000\`); every flag takes a value, \`--metrics false\`
   included;
2. an environment variable: \`PORT=9000\` (an empty one counts as unset, except
   for the Authentication settings, where it is refused: \`JWT_SECRET=\` must
   not turn auth off unnoticed);
3. a JSON file named by \`--${CONFIG_FILE.flag}\` or \`${CONFIG_FILE.env}\`, whose keys are the
   setting names: \`{ "port": 9000, "allowedOrigins": ["https://app.example"] }\`;
   \`namespaces\` ([namespaces.md](namespaces.md)), a map, is read from the
   file only: given as a flag or variable it is refused;
4. the default.

Everything is read and checked once, at startup. A value that does not fit
stops the server with one line naming the setting where it was read (the
flag, the variable, or the key and the file), the value, and what is
allowed; exit code 1 (a value the setting keeps secret is not printed). An
unknown key in the file is refused the same way, and an unknown flag exits 2
with the usage (\`fastify-pubsub --help\`, which lists every flag), so a typo
cannot pass unnoticed. A setting given where it cannot act (\`REDIS_TIMEOUT\`
without \`REDIS_URL\`, the thresholds with \`UNDER_PRESSURE=false\`, …) is
logged as a warning at startup.

\`PUBSUB_URL\` and \`PUBSUB_TOKEN\` are not settings of the server: they are
the defaults of \`--url\` and \`--token\` for \`fastify-pubsub pub\` and \`sub\`,
the clients of the same command (\`fastify-pubsub pub --help\`).

Apps that mount the plugin pass options instead: see [Plugin options](#plugin-options) at the end.
`

const PLUGIN = `## Plugin options

\`app.register(fastifyPubsub, options)\` takes the options below: those the
standalone server has as settings under the same names, with the same
defaults and ranges (durations are integers of ms here), and a few that
only code can give.
`

const PLUGIN_END = `
Every option is checked at registration: a bad one fails \`app.ready()\` with
\`PUBSUB_ERR_OPTION\` naming it (\`rateLimit.burst\` for a nested one). When
the plugin registers \`@fastify/websocket\` itself, it turns permessage-deflate
off and leaves UTF-8 checking to the route (bad text is a \`BAD_JSON\` error
frame rather than a close with 1007); \`maxPayload\` applies only then.

\`requestTimeout\` is Fastify's own option, not the plugin's: give your
instance one, as the server does (\`Fastify({ requestTimeout: 10_000 })\`),
or a request whose body or headers trickle in holds its connection for as
long as the client likes ([limits.md](limits.md)).
`

type Described = TSchema & OptionMeta & { description: string, default?: unknown, anyOf?: TSchema[], properties?: Record<string, Described> }

/** One row per plugin option, and one per field of an object option (`rateLimit.rate`). */
function pluginRows (): string[] {
  const rows: string[] = []
  const row = (name: string, schema: Described): void => {
    const fallback = schema.shown ?? (schema.default === undefined ? 'required' : `\`${JSON.stringify(schema.default).replaceAll('"', "'")}\``)
    rows.push(`| \`${name}\` | ${fallback} | ${schema.description}. Takes ${optionAllowed(schema)}. |`)
  }
  for (const [key, schema] of Object.entries(PubsubOptionsSchema.properties as unknown as Record<string, Described>)) {
    row(key, schema)
    const object = schema.anyOf?.find((branch) => (branch as { type?: string }).type === 'object') as Described | undefined
    for (const [field, inner] of Object.entries(object?.properties ?? {})) row(`${key}.${field}`, inner)
  }
  return rows
}

export function renderConfigurationDoc (): string {
  const keys = Object.keys(SETTINGS) as SettingKey[]
  const sections = (Object.keys(SECTIONS) as Section[]).map((section) => {
    const rows = keys.filter((key) => SETTINGS[key].section === section).map((key) => {
      const schema = SETTINGS[key]
      const fallback = schema.shown ?? `\`${defaultText(key)}\``
      const [env, flag] = schema.fileOnly === true ? ['file only', 'file only'] : [`\`${envName(key)}\``, `\`--${flagName(key)}\``]
      return `| \`${key}\` | ${env} | ${flag} | ${fallback} | ${schema.description}. Takes ${allowed(schema)}. |`
    })
    return `## ${SECTIONS[section]}\n\n| setting | environment | flag | default | meaning |\n| --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`
  })
  const plugin = `${PLUGIN}\n| option | default | meaning |\n| --- | --- | --- |\n${pluginRows().join('\n')}\n${PLUGIN_END}`
  return [INTRO, ...sections, plugin].join('\n')
}

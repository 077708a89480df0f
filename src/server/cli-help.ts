// What `fastify-pubsub` prints for a mistake (USAGE) and for --help: every
// server flag with its variable, default and meaning, all from settings.ts.
import { SECTIONS } from './config-doc.js'
import { CONFIG_FILE, defaultText, envName, flagName, SETTINGS, type Section, type SettingKey } from './settings.js'

export const USAGE = `Usage:
  fastify-pubsub [--${CONFIG_FILE.flag} file.json] [--setting value ...]
      run the server (the settings: fastify-pubsub --help)
  fastify-pubsub pub <topic> <message> [--url URL] [--token TOKEN] [--key KEY]
      publish one message (fastify-pubsub pub --help)
  fastify-pubsub sub <topic-or-pattern> [--url URL] [--token TOKEN]
      print every message as one JSON line (fastify-pubsub sub --help)
  fastify-pubsub --help | --version
`

const WIDTH = 80
const INDENT = '      '

/** `text` in lines of at most WIDTH columns, each after INDENT. */
function wrap (text: string): string {
  const lines: string[] = []
  let line = INDENT
  for (const word of text.split(' ')) {
    if (line.length + word.length >= WIDTH && line !== INDENT) {
      lines.push(line.trimEnd())
      line = INDENT
    }
    line += `${word} `
  }
  return [...lines, line.trimEnd()].join('\n')
}

/** A heading of the docs for a terminal: `Redis engine (docs/scaling.md)`. */
function heading (section: Section): string {
  return SECTIONS[section].replace(/\[[^\]]*\]\(([^)]+)\)/g, 'docs/$1')
}

export function serverHelp (): string {
  const keys = Object.keys(SETTINGS) as SettingKey[]
  const sections = (Object.keys(SECTIONS) as Section[]).map((section) => {
    // A file-only setting (namespaces) has no flag.
    const flags = keys.filter((key) => SETTINGS[key].section === section && SETTINGS[key].fileOnly !== true).map((key) =>
      `  --${flagName(key)} <${defaultText(key)}>`.padEnd(36) + `${envName(key)}\n${wrap(SETTINGS[key].description)}`)
    return `${heading(section)}:\n${flags.join('\n')}`
  })
  return `${USAGE}
The server reads each setting from its flag, else its environment variable,
else the JSON file (--${CONFIG_FILE.flag} or ${CONFIG_FILE.env}), else its default; every flag takes
a value (--metrics false). docs/configuration.md says what each one takes.

${sections.join('\n\n')}
`
}

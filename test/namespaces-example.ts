import { readFileSync } from 'node:fs'
import type { NamespaceOptions } from '../src/pubsub/namespaces.js'

/** The worked config of docs/namespaces.md (chat, typing, prices, system), read from the file the docs show. */
export const WORKED_CONFIG_FILE = new URL('../docs/namespaces.example.json', import.meta.url)

export const WORKED = (JSON.parse(readFileSync(WORKED_CONFIG_FILE, 'utf8')) as { namespaces: Record<string, NamespaceOptions> }).namespaces

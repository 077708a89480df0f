// Namespaces: options for the topics a pattern matches (history, message
// size and schema, who may publish, presence, conflation). Checked and compiled once;
// a topic's namespace is resolved once per publish, cached, never per
// delivery. docs/namespaces.md.
import { Ajv, type ErrorObject } from 'ajv'
import { clip, PUBSUB_ERR_BAD_REQUEST, PUBSUB_ERR_FORBIDDEN, PUBSUB_ERR_INVALID_MESSAGE, PUBSUB_ERR_OPTION } from '../protocol/errors.js'
import type { NamespaceOptions } from '../protocol/namespace.js'
import { isPattern, matches } from '../protocol/topic.js'
import { didYouMean } from './closest.js'
import { LIMITS, MAX_INT32, rangeText } from './defaults.js'

// The options' shape is the contract's (1.1, namespaces), so protocol/ holds it.
export type { NamespaceOptions }

/** One namespace, compiled. The history fields are undefined where the engine's own apply. */
export interface Namespace {
  readonly pattern: string
  readonly historySize: number | undefined
  readonly historyTtl: number | undefined
  readonly maxMessageBytes: number | undefined
  readonly clientPublish: boolean
  readonly presence: boolean
  /** Whether a subscriber that is behind gets the latest message per topic (with `skipped`) rather than 1013. */
  readonly conflate: boolean
  /** The schema, compiled: the first failure of a message, described (`/text must be string`), or undefined when it passes. */
  readonly check: ((data: unknown) => string | undefined) | undefined
}

/** Topics whose namespace is remembered at most; past it the oldest is resolved again when next seen. */
export const MAX_RESOLVED_TOPICS = 10_000

/** Longest Ajv error text a refusal repeats: an instance path holds the client's property names. */
const ERROR_CLIP = 200

type FieldCheck = (value: unknown) => string | undefined

function integerIn (minimum: number, maximum: number): FieldCheck {
  return (value) => Number.isSafeInteger(value) && (value as number) >= minimum && (value as number) <= maximum ? undefined : rangeText({ minimum, maximum })
}
function boolean (value: unknown): string | undefined {
  return typeof value === 'boolean' ? undefined : 'true or false'
}

/** Each field of NamespaceOptions and what it takes: the same ranges as the plugin's options. */
const FIELDS: Record<keyof NamespaceOptions, FieldCheck> = {
  historySize: integerIn(LIMITS.historySize.minimum, LIMITS.historySize.maximum),
  historyTtl: integerIn(LIMITS.historyTtl.minimum, LIMITS.historyTtl.maximum),
  maxMessageBytes: integerIn(1, MAX_INT32),
  clientPublish: boolean,
  presence: boolean,
  conflate: boolean,
  schema: (value) => isPlainObject(value) ? undefined : 'a JSON Schema object'
}
const FIELD_NAMES = Object.keys(FIELDS)

/** How an option of one namespace is named in errors: `namespaces['chat.>'].historySize`, plus where it was read. */
export function namespaceOption (pattern: string, field?: string, where = ''): string {
  return `namespaces['${pattern}']${field === undefined ? '' : `.${field}`}${where}`
}

/**
 * Checks the `namespaces` option (every key a pattern, every field known and
 * in range); throws PUBSUB_ERR_OPTION naming `namespaces['chat.>'].historySize`.
 * Schemas are compiled by compileNamespaces.
 */
export function checkNamespaces (namespaces: unknown, where = ''): void {
  if (!isPlainObject(namespaces)) throw new PUBSUB_ERR_OPTION(`namespaces${where}`, namespaces, 'an object of patterns to namespace options')
  for (const [pattern, options] of Object.entries(namespaces)) {
    if (!isPattern(pattern)) throw new PUBSUB_ERR_OPTION(namespaceOption(pattern, undefined, where), pattern, 'a key is a topic or pattern such as chat.> or user.*.inbox')
    if (!isPlainObject(options)) throw new PUBSUB_ERR_OPTION(namespaceOption(pattern, undefined, where), options, 'an object of namespace options')
    for (const [field, value] of Object.entries(options)) {
      const check = FIELDS[field as keyof NamespaceOptions] as FieldCheck | undefined
      if (check === undefined) throw new PUBSUB_ERR_OPTION(namespaceOption(pattern, field, where), '(hidden)', `not a namespace option${didYouMean(field, FIELD_NAMES)}: see docs/namespaces.md`)
      // Left out and undefined are the same.
      const wanted = value === undefined ? undefined : check(value)
      if (wanted !== undefined) throw new PUBSUB_ERR_OPTION(namespaceOption(pattern, field, where), field === 'schema' ? '(schema)' : value, wanted)
    }
  }
}

/**
 * The namespaces of the `namespaces` option, checked, their schemas compiled
 * once; undefined when there are none, so that a publish pays one check.
 */
export function compileNamespaces (namespaces: Record<string, NamespaceOptions> | undefined): Namespaces | undefined {
  if (namespaces === undefined) return undefined
  checkNamespaces(namespaces)
  if (Object.keys(namespaces).length === 0) return undefined
  // Safe defaults: no remote references (no loadSchema), no $data, no formats.
  const ajv = new Ajv({ strict: true, allErrors: false, $data: false })
  const list = Object.entries(namespaces).map(([pattern, options]): Namespace => ({
    pattern,
    historySize: options.historySize,
    historyTtl: options.historyTtl,
    maxMessageBytes: options.maxMessageBytes,
    clientPublish: options.clientPublish ?? true,
    presence: options.presence ?? true,
    conflate: options.conflate ?? false,
    check: options.schema === undefined ? undefined : compile(ajv, pattern, options.schema)
  }))
  return new Namespaces(list)
}

function compile (ajv: Ajv, pattern: string, schema: Record<string, unknown>): (data: unknown) => string | undefined {
  let validate: ReturnType<Ajv['compile']>
  try {
    validate = ajv.compile(schema)
  } catch (err) {
    throw new PUBSUB_ERR_OPTION(namespaceOption(pattern, 'schema'), '(schema)', `a JSON Schema that compiles: ${(err as Error).message}`)
  }
  // allErrors is off: the first failure is the only one.
  return (data) => validate(data) ? undefined : describe((validate.errors as ErrorObject[])[0] as ErrorObject)
}

/**
 * Namespace patterns, most specific first: token kinds compared left to
 * right, a literal before `*` before `>`; the first that differs decides,
 * and of two where one's kinds start the other's, the longer comes first.
 * Negative when `a` is the more specific.
 */
export function compareSpecificity (a: string, b: string): number {
  const kindsA = kinds(a)
  const kindsB = kinds(b)
  for (let i = 0; i < Math.min(kindsA.length, kindsB.length); i++) {
    const difference = (kindsB[i] as number) - (kindsA[i] as number)
    if (difference !== 0) return difference
  }
  return kindsB.length - kindsA.length
}

/** 2 for a literal token, 1 for `*`, 0 for `>`. */
function kinds (pattern: string): number[] {
  return pattern.split('.').map((token) => token === '>' ? 0 : token === '*' ? 1 : 2)
}

/** The compiled namespaces and the cache of which topic is in which. */
export class Namespaces {
  /** Most specific first: the first that matches a topic is its namespace. */
  readonly list: readonly Namespace[]
  /** Each topic seen: its namespace, or null for none; insertion order is age. */
  readonly #cache = new Map<string, Namespace | null>()

  constructor (list: Namespace[]) {
    this.list = Object.freeze([...list].sort((a, b) => compareSpecificity(a.pattern, b.pattern)))
  }

  /** The namespace of a concrete topic: the most specific pattern that matches it, or undefined. */
  resolve (topic: string): Namespace | undefined {
    const cached = this.#cache.get(topic)
    if (cached !== undefined) return cached ?? undefined
    const found = this.list.find((namespace) => matches(namespace.pattern, topic))
    // Insertion order is age: the oldest goes first.
    if (this.#cache.size >= MAX_RESOLVED_TOPICS) this.#cache.delete(this.#cache.keys().next().value as string)
    this.#cache.set(topic, found ?? null)
    return found
  }

  /** Topics whose namespace is cached now (for tests of the bound). */
  get cached (): number {
    return this.#cache.size
  }
}

/**
 * Throws unless a publish of `data` (whose JSON text is `json`) may go to a
 * topic of `namespace`: FORBIDDEN for a client where clients may not publish,
 * BAD_REQUEST past maxMessageBytes, INVALID_MESSAGE when it fails the schema.
 */
export function admit (namespace: Namespace, data: unknown, json: string, client: boolean): void {
  if (client && !namespace.clientPublish) {
    throw new PUBSUB_ERR_FORBIDDEN(`clients may not publish to namespace '${namespace.pattern}' (clientPublish: false)`)
  }
  const limit = namespace.maxMessageBytes
  // A character is 1 to 3 UTF-8 bytes (a surrogate pair 4 for 2): the text's length bounds its size both ways.
  if (limit !== undefined && json.length * 3 > limit) {
    const bytes = Buffer.byteLength(json)
    if (bytes > limit) throw new PUBSUB_ERR_BAD_REQUEST(`the message is ${bytes} bytes, over the ${limit}-byte limit of namespace '${namespace.pattern}' (maxMessageBytes)`)
  }
  const failure = namespace.check?.(data)
  if (failure !== undefined) {
    throw new PUBSUB_ERR_INVALID_MESSAGE(`the message does not match the schema of namespace '${namespace.pattern}': ${clip(failure, ERROR_CLIP)}`)
  }
}

/** `/text must be string`; `/ must NOT have additional properties ('extra')`. */
function describe ({ instancePath, message, params }: ErrorObject): string {
  const extra = (params as { additionalProperty?: string }).additionalProperty
  return `${instancePath === '' ? '/' : instancePath} ${message as string}${extra === undefined ? '' : ` ('${extra}')`}`
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

// resolveOptions: the plugin's options checked and defaulted against the
// schema (options-schema.ts) once, at registration.
import type { TSchema } from 'typebox'
import Value from 'typebox/value'
import { Authenticator, type AuthOptions } from './auth/authenticator.js'
import { normalizeOrigins } from './auth/origins.js'
import { allowed, PubsubOptionsSchema, type OptionMeta, type SchemaOptions } from './options-schema.js'
import type { PubsubOptions, RedisEngineConfig, ResolvedOptions } from './options.js'
import type { ResolvedPressureOptions } from './plugins/load-shedding.js'
import { didYouMean } from './pubsub/closest.js'
import type { Engine } from './pubsub/engine.js'
import { checkNamespaces } from './pubsub/namespaces.js'
import { PUBSUB_ERR_OPTION } from './protocol/errors.js'

const PROPERTIES = PubsubOptionsSchema.properties as unknown as Record<string, TSchema & OptionMeta>

/**
 * Copies, checks and defaults the plugin's options once, at registration,
 * against PubsubOptionsSchema. Throws PUBSUB_ERR_OPTION naming the option
 * (`rateLimit.burst` for a nested one), its value and what is allowed.
 *
 * @example
 * resolveOptions({ maxPayload: 1 << 20 })  // { maxPayload: 1048576, bodyLimit: 65536, ... }
 */
export function resolveOptions (options: PubsubOptions = {}): ResolvedOptions {
  for (const key of Object.keys(options)) {
    if (key in PROPERTIES || FASTIFY_REGISTER_OPTIONS.has(key)) continue
    // The value is not shown: a misspelled `secrt` would print a secret.
    throw new PUBSUB_ERR_OPTION(key, '(hidden)', `not an option${didYouMean(key, Object.keys(PROPERTIES))}: see docs/configuration.md`)
  }
  // Before the schema: its errors would name `namespaces.chat.>.historySize`.
  if (options.namespaces !== undefined) checkNamespaces(options.namespaces)
  const input: Record<string, unknown> = {}
  for (const key of Object.keys(PROPERTIES)) {
    const value = (options as Record<string, unknown>)[key]
    // Plain objects are copied (the defaults go into the copy); an Engine instance is kept as it is.
    if (value !== undefined) input[key] = isPlainObject(value) ? { ...value } : value
    // An object for an `off` option gets its object's defaults, so that only what is wrong in it is reported.
    const object = offObject(PROPERTIES[key] as TSchema)
    if (object !== undefined && isPlainObject(input[key])) Value.Default(object, input[key])
  }
  Value.Default(PubsubOptionsSchema, input)
  const error = Value.Errors(PubsubOptionsSchema, input).find(relevant)
  if (error !== undefined) throw optionError(error, input)
  const { prefix: _prefix, engine, auth, allowedOrigins, underPressure, rateLimit, restRateLimit, namespaces, ...data } = input as SchemaOptions
  checkEngine(engine)
  if (underPressure !== false && underPressure.healthCheck !== undefined && typeof underPressure.healthCheck !== 'function') {
    throw new PUBSUB_ERR_OPTION('underPressure.healthCheck', underPressure.healthCheck, 'a function resolving to true or false')
  }
  return Object.freeze({
    ...data,
    engine: engine as Engine | RedisEngineConfig | undefined,
    allowedOrigins: Object.freeze(normalizeOrigins(allowedOrigins)),
    rateLimit: rateLimit && Object.freeze(rateLimit),
    restRateLimit: restRateLimit && Object.freeze(restRateLimit),
    namespaces: Object.freeze(namespaces),
    underPressure: underPressure && Object.freeze(underPressure as ResolvedPressureOptions),
    authenticator: auth === undefined || auth === false ? undefined : new Authenticator(auth as AuthOptions)
  })
}

/** What Fastify itself reads of every register() call's options (fastify 5, lib/plugin-override.js). */
const FASTIFY_REGISTER_OPTIONS = new Set(['logLevel', 'logSerializers'])

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

/** The object of an `off()` option's union, if `schema` is one. */
function offObject (schema: TSchema): TSchema | undefined {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf
  return anyOf?.find((branch) => (branch as { type?: string }).type === 'object')
}

type SchemaError = ReturnType<typeof Value.Errors>[number]

/**
 * An error that says what is wrong: not the `false` branch of an object
 * option that was given an object. (A union's summary comes after its
 * branches' errors, so one of those is found first.)
 */
function relevant (error: SchemaError): boolean {
  return !/\/anyOf\/0$/.test(error.schemaPath)
}

/** PUBSUB_ERR_OPTION for a schema error: the option's dotted path, its value, and what it takes. */
function optionError (error: SchemaError, input: Record<string, unknown>): InstanceType<typeof PUBSUB_ERR_OPTION> {
  const path = error.instancePath.split('/').slice(1)
  if (error.keyword === 'required') path.push((error.params as { requiredProperties: string[] }).requiredProperties[0] as string)
  let value: unknown = input
  let schema: TSchema = PubsubOptionsSchema
  for (const [index, segment] of path.entries()) {
    // Inside a list, the list is named: `allowedOrigins`, not `allowedOrigins.0`.
    if ((schema as { type?: string }).type === 'array') {
      path.length = index
      break
    }
    value = (value as Record<string, unknown>)[segment]
    // Errors come from the schema: every segment up to a list names a property of it.
    schema = ((offObject(schema) ?? schema) as { properties: Record<string, TSchema> }).properties[segment] as TSchema
  }
  return new PUBSUB_ERR_OPTION(path.join('.'), value, allowed(schema))
}

function checkEngine (engine: unknown): void {
  if (engine !== undefined && (typeof engine !== 'object' || engine === null ||
    ('type' in engine ? engine.type !== 'redis' && engine.type !== 'redis-cluster' : typeof (engine as Engine).publish !== 'function'))) {
    throw new PUBSUB_ERR_OPTION('engine', engine, "an Engine, { type: 'redis', url } or { type: 'redis-cluster', nodes }")
  }
}

// Typed topics: a map from topic templates to message types, that the SDK
// (PubsubClient<Topics>) and the in-process API (TypedBroker<Topics>) check
// publishes and subscriptions against. Types only: nothing here exists at
// run time, and nothing checks `data` there (a namespace's schema does).
// docs/client.md, "Typed topics".

/**
 * Topic templates to message types, as a type alias or an interface:
 * `{ [topic: `chat.${string}`]: { text: string }, 'prices.btc': { price: number } }`.
 * A key is a topic or a template literal type; a `string` index signature
 * is a catch-all, that lets every other topic through with its type.
 */
export type TopicMap = object

/** The default map: every topic, any message (what untyped code gets). */
export type AnyTopics = Record<string, unknown>

/** The topics a map accepts: its keys, templates included. */
export type TopicOf<Topics extends TopicMap> = Extract<keyof Topics, string>

/**
 * The message type of a concrete topic `T`: its key's value, found through
 * the template index signatures; `never` for a topic the map does not have.
 */
export type MessageOf<Topics extends TopicMap, T extends string> = T extends keyof Topics ? Topics[T] : never

/** A subscription with wildcards: a `*` token or a trailing `>`. */
export type Pattern = `${string}*${string}` | `${string}>`

/** What may be subscribed to: the map's topics, and any pattern. */
export type SubscribableOf<Topics extends TopicMap> = TopicOf<Topics> | Pattern

/**
 * What a subscription to `P` receives. A topic, or a pattern that one key
 * covers whole (`chat.*` under `chat.${string}`), gets that key's type; any
 * other pattern (`>`, `*.inbox`, `prices.*` over literal keys) the union of
 * all the map's message types, since it may match any of its topics.
 */
export type SubscribedMessageOf<Topics extends TopicMap, P extends string> =
  P extends TopicOf<Topics> ? MessageOf<Topics, P> : Topics[TopicOf<Topics>]

/** The explicit-type-argument form (`subscribe<Order>(…)`) is open to maps with a `string` catch-all only. */
export type UntypedTopic<Topics extends TopicMap> = string extends keyof Topics ? string : never

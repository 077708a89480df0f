// A namespace's options (docs/namespaces.md): what the broker enforces
// (pubsub/namespaces.ts) and the AsyncAPI document shows (asyncapi.ts).

/** Options of the topics one namespace pattern matches; each left out is the plugin's. */
export interface NamespaceOptions {
  /** Messages kept per topic for recovery and GET /topics/:topic/history (default: the plugin's historySize; 0: none). */
  historySize?: number
  /** How long a retained message is kept, in ms (default: the plugin's historyTtl). */
  historyTtl?: number
  /** Largest message, in bytes of its JSON text (default: no limit of its own; maxPayload and bodyLimit apply); a larger publish answers BAD_REQUEST (HTTP 400). */
  maxMessageBytes?: number
  /** Whether clients may publish here (default true). false: a WebSocket publish is FORBIDDEN, a REST publish needs the API key when auth is on; the in-process API always may. */
  clientPublish?: boolean
  /** Whether presence (subscriber client ids) is served for these topics (default true). */
  presence?: boolean
  /** A JSON Schema (TypeBox makes them) every published message must pass, else INVALID_MESSAGE (HTTP 400) and nothing is published. */
  schema?: Record<string, unknown>
  /** Whether a subscriber that falls behind keeps only the latest message of each topic, with `skipped`, instead of being closed with 1013 (default false). */
  conflate?: boolean
}

// What the Sentinel options take, beyond their addresses (addresses.ts).

/** What `name` takes with sentinels, in words. */
export const SENTINEL_NAME_RULE = "the name Sentinel monitors the primary under (its 'sentinel monitor <name> ...' line), with sentinels"

// Lua run inside Redis, so that seq, epoch, history and the PUBLISH of one
// message happen as one step: every node sees the same seq for a message,
// and a topic's order is Redis's order. codec.ts reads back what they write.
import type { Cluster, Redis } from 'ioredis'
import { PUBSUB_ERR_UNAVAILABLE } from '../../protocol/errors.js'

/**
 * Lua that reads the topic's meta (`meta`: epoch, the primary that last
 * wrote it) and sets `primary`, which the script compares it with (a
 * mismatch starts a new epoch), from ARGV[index]:
 * - the replication id the node read for its connection (one Redis: primary.ts), or '' for no check;
 * - on a cluster, '*': the id of the Redis running the script, read here
 *   (an INFO, about 2.5 µs of Redis CPU on 7.0). A node cannot know that
 *   Redis beforehand: ioredis follows a MOVED with the arguments unchanged.
 *   A topic last written under this Redis's previous id (`master_replid2`:
 *   it is a promoted replica of that primary) starts a new epoch; one
 *   written under an id it never had either moved here with its slot
 *   (resharding: MIGRATE keeps every write) or was left behind by an older
 *   failover or a restart, which Redis cannot tell apart: the script fails
 *   with `PUBSUB_LINEAGE <id>` and writes nothing;
 * - '*<id>': as '*', and that id is a live primary's (the node asked every
 *   primary, cluster-engine.ts): the topic moved here whole and keeps its epoch;
 * - '!': as '*', and no primary has that id: a new epoch.
 */
function lineage (index: number): string {
  return `local primary = ARGV[${index}]
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'primary')
local mode = string.sub(primary, 1, 1)
if mode == '*' or mode == '!' then
  local info = redis.call('INFO', 'replication')
  primary = string.match(info, 'master_replid:(%w+)')
  local writer = meta[2]
  if meta[1] and writer ~= primary and writer ~= string.match(info, 'master_replid2:(%w+)') and mode == '*' then
    local live = string.sub(ARGV[${index}], 2)
    if live == '' or writer ~= live then return redis.error_reply('PUBSUB_LINEAGE ' .. (writer or '')) end
    redis.call('HSET', KEYS[1], 'primary', primary)
    meta[2] = primary
  end
end`
}

/**
 * KEYS: meta hash, history list, retained zset, the publish's idempotency
 * hash, the retained topics' names (a zset in byte order, for listing).
 * ARGV: topic, json, ts, historySize, historyTtl (ms), metaTtl (ms), a new
 * epoch in case the topic has none, channel, idempotency window (ms; 0: the
 * publish has no key), the sessions on the publishing node it is for, the
 * longest historyTtl of any topic (ms: what the retained index keeps; the
 * topic's own, ARGV[5], may be shorter where namespaces set it), the
 * primary's replication id (`lineage`).
 *
 * A topic whose seq was last written under another primary gets a new epoch,
 * its seq starting over: this primary may lack the last increments that
 * clients saw (a failover, a restart), and must not hand their seqs out
 * again with other data (primary.ts).
 * Returns { seq, epoch, delivered (the first publish's, for a key used
 * before), 1 when the key was used before (and nothing was published) else 0 }.
 *
 * History entries are `seq \n ts \n json`; PUBLISH payloads `seq \n epoch \n ts \n json`.
 */
export const PUBLISH = publishScript(12, "redis.call('PUBLISH', ARGV[8], seq .. '\\n' .. epoch .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[2])")

/**
 * The publish script around the step that sends the message, shared with
 * the cluster's (cluster-scripts.ts): `primary` is the ARGV index of the
 * primary's replication id, `send` the Lua that sends it (`seq` and
 * `epoch` are set by then).
 */
export function publishScript (primary: number, send: string): string {
  return `
local window = tonumber(ARGV[9])
if window > 0 then
  local first = redis.call('HMGET', KEYS[4], 'seq', 'epoch', 'delivered')
  if first[1] then return { tonumber(first[1]), first[2], tonumber(first[3]), 1 } end
end
${lineage(primary)}
local epoch = meta[1]
if not epoch or (primary ~= '' and meta[2] ~= primary) then
  epoch = ARGV[7]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0, 'primary', primary)
  redis.call('DEL', KEYS[2])
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local size = tonumber(ARGV[4])
if size > 0 then
  redis.call('RPUSH', KEYS[2], seq .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[2])
  redis.call('LTRIM', KEYS[2], -size, -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  -- A topic new to the index joins the names too; listing prunes those that left (PRUNE_RETAINED).
  if redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) == 1 then redis.call('ZADD', KEYS[5], 0, ARGV[1]) end
  -- Topics whose last message has expired leave the index, so it stays bounded.
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[11])))
end
${send}
local delivered = tonumber(ARGV[10])
if window > 0 then
  redis.call('HSET', KEYS[4], 'seq', seq, 'epoch', epoch, 'delivered', delivered)
  redis.call('PEXPIRE', KEYS[4], window)
end
return { seq, epoch, delivered, 0 }
`
}

/**
 * KEYS: meta hash, history list.
 * ARGV: a new epoch in case the topic has none (or was written under another
 * primary, as PUBLISH), metaTtl (ms), '1' to include the history, the
 * primary's replication id (`lineage`).
 * Returns { seq, epoch, history entries (oldest first) or {} }.
 */
export const SNAPSHOT = `
${lineage(4)}
if not meta[1] or (primary ~= '' and meta[2] ~= primary) then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', 0, 'primary', primary)
  redis.call('DEL', KEYS[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
meta = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
local history = {}
if ARGV[3] == '1' then history = redis.call('LRANGE', KEYS[2], 0, -1) end
return { tonumber(meta[1]), meta[2], history }
`

/**
 * KEYS: retained zset, retained names.
 * ARGV: pairs of a topic and the oldest last-publish time (ms) that still
 * retains it.
 * Drops the topics that retain nothing any more from both, so that a later
 * publish adds the name back (PUBLISH adds it when the topic is new to the
 * retained zset). Atomic with the publishes: a topic published meanwhile is
 * kept.
 */
export const PRUNE_RETAINED = `
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not score or tonumber(score) < tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end
`

/**
 * KEYS: the `present` names (presence.ts), then the live nodes' presence hashes.
 * ARGV: names.
 * Drops the names that none of the hashes has: atomic with a node's
 * subscribe, which writes its hash and the name in one transaction.
 */
export const PRUNE_PRESENT = `
for _, name in ipairs(ARGV) do
  local held = false
  for k = 2, #KEYS do
    if redis.call('HEXISTS', KEYS[k], name) == 1 then held = true break end
  end
  if not held then redis.call('ZREM', KEYS[1], name) end
end
`

/** The scripts as commands, on one Redis or a cluster (cluster-scripts.ts). */
export interface PubsubScripts {
  pubsubPublish (meta: string, history: string, retained: string, idempotency: string, names: string, ...args: Array<string | number>): Promise<[number, string, number, 0 | 1]>
  pubsubSnapshot (meta: string, history: string, ...args: Array<string | number>): Promise<[number, string, string[]]>
  pubsubPruneRetained (retained: string, names: string, ...args: Array<string | number>): Promise<null>
  /** `keys`: how many of the arguments are keys (the names' index, then the hashes). */
  pubsubPrunePresent (keys: number, ...args: string[]): Promise<null>
}

/** Defines the scripts on a command connection, of one Redis or a cluster. */
export function defineScripts (redis: Redis | Cluster, publish: string): void {
  redis.defineCommand('pubsubPublish', { numberOfKeys: 5, lua: publish })
  redis.defineCommand('pubsubSnapshot', { numberOfKeys: 2, lua: SNAPSHOT })
  redis.defineCommand('pubsubPruneRetained', { numberOfKeys: 2, lua: PRUNE_RETAINED })
  redis.defineCommand('pubsubPrunePresent', { lua: PRUNE_PRESENT })
}

/** The command connection, with the scripts defined on it. */
export type ScriptedRedis = Redis & PubsubScripts

/** Defines the scripts on a command connection. */
export function scripted (redis: Redis): ScriptedRedis {
  defineScripts(redis, PUBLISH)
  return redis as ScriptedRedis
}

/** Runs a Redis call; any failure (down, timeout) is UNAVAILABLE to the caller. */
export type RedisCall = <T>(call: () => Promise<T>) => Promise<T>

/** A pipeline's replies; a command's error (a key of the wrong type) fails the whole read. */
export async function exec (pipeline: ReturnType<Redis['pipeline']>, call: RedisCall): Promise<unknown[]> {
  const replies = await call(async () => await pipeline.exec()) as Array<[Error | null, unknown]>
  const failed = replies.find(([err]) => err !== null)
  if (failed !== undefined) throw new PUBSUB_ERR_UNAVAILABLE(`redis: ${(failed[0] as Error).message}`)
  return replies.map(([, value]) => value)
}

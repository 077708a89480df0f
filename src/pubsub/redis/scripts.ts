// Lua run inside Redis, so that seq, epoch, history and the PUBLISH of each
// message happen as one step: every node sees the same seq for a message,
// and a topic's order is Redis's order. codec.ts reads back what they write.
import type { Cluster, Redis } from 'ioredis'
import { PUBSUB_ERR_UNAVAILABLE } from '../../protocol/errors.js'

/**
 * A Lua function, `primaryFor(metaKey, meta, lineage)`, that tells which
 * primary a topic's seq is written under, from `meta` (its HMGET of epoch
 * and the primary that last wrote it) and `lineage`, what the node passes:
 * - the replication id the node read for its connection (one Redis: primary.ts), or '' for no check;
 * - on a cluster, '*': the id of the Redis running the script, read here
 *   (one INFO per script call, about 1.5 µs of Redis CPU on 7.0). A node
 *   cannot know that Redis beforehand: ioredis follows a MOVED with the
 *   arguments unchanged. A topic last written under this Redis's previous
 *   id (`master_replid2`: it is a promoted replica of that primary) starts
 *   a new epoch; one written under an id it never had either moved here
 *   with its slot (resharding: MIGRATE keeps every write) or was left
 *   behind by an older failover or a restart, which Redis cannot tell
 *   apart: it returns nil and `PUBSUB_LINEAGE <id>`, having written nothing;
 * - '*<id>': as '*', and that id is a live primary's (the node asked every
 *   primary, cluster-engine.ts): the topic moved here whole and keeps its epoch;
 * - '!': as '*', and no primary has that id: a new epoch.
 * The caller starts a new epoch where the primary returned is not '' and
 * differs from the topic's.
 */
const PRIMARY_FOR = `
local replication
local function primaryFor (metaKey, meta, lineage)
  local mode = string.sub(lineage, 1, 1)
  if mode ~= '*' and mode ~= '!' then return lineage end
  replication = replication or redis.call('INFO', 'replication')
  local primary = string.match(replication, 'master_replid:(%w+)')
  local writer = meta[2]
  if meta[1] and writer ~= primary and writer ~= string.match(replication, 'master_replid2:(%w+)') and mode == '*' then
    local live = string.sub(lineage, 2)
    if live == '' or writer ~= live then return nil, 'PUBSUB_LINEAGE ' .. (writer or '') end
    redis.call('HSET', metaKey, 'primary', primary)
    meta[2] = primary
  end
  return primary
end
`

/** ARGV of a whole batch (PUBLISH_BATCH), before its publishes'. */
const BATCH_ARGS = 6
/** ARGV per publish of a batch. */
const PER_PUBLISH = 8

/**
 * The publishes of one turn in one script call (publish-batch.ts): Redis
 * parses, runs and answers one command, and the node builds one, for all
 * of them, in order.
 *
 * KEYS: the retained zset, the retained topics' names (a zset in byte
 * order, for listing), then for each publish its meta hash, history list
 * and idempotency hash (its meta hash again where it has no key), and with
 * `keysPerPublish` 4 a key `send` may use (`fanInCount`: the cluster's).
 * ARGV: ts (ms), metaTtl (ms), the longest historyTtl of any topic (ms: what
 * the retained index keeps; a topic's own may be shorter where namespaces
 * set it), the channel prefix (a topic's channel is it and the topic), the
 * fan-in channel prefix (cluster: a publish's is it and its partition), the
 * epoch prefix (a topic that needs a new epoch gets it and the publish's
 * index); then for each publish: topic, json, historySize, historyTtl
 * (ms), idempotency window (ms; 0: no key), the sessions on the publishing
 * node it is for, lineage (PRIMARY_FOR), fan-in partition (cluster).
 *
 * A topic whose seq was last written under another primary gets a new epoch,
 * its seq starting over: this primary may lack the last increments that
 * clients saw (a failover, a restart), and must not hand their seqs out
 * again with other data (primary.ts).
 * Returns for each publish { seq, epoch, delivered (the first publish's,
 * for a key used before), 1 when the key was used before (and nothing was
 * published) else 0 }, or { 'E', the error } for one that failed alone (a
 * key of the wrong type, PUBSUB_LINEAGE): the others are not held back.
 *
 * History entries are `seq \n ts \n json`. `send` is the Lua that sends the
 * message (`topic`, `seq`, `epoch`, `json`, `ts` and `partition` are set):
 * one Redis PUBLISHes `seq \n epoch \n ts \n json`, a cluster SPUBLISHes
 * with the topic first (cluster-scripts.ts).
 */
export function publishBatchScript (send: string, keysPerPublish = 3): string {
  return `${PRIMARY_FOR}
local ts = ARGV[1]
local metaTtl = ARGV[2]
local channels = ARGV[4]
local fanIns = ARGV[5]
local retained = false
local function publish (i, meta, history, idempotency, fanInCount, topic, json, size, historyTtl, window, delivered, lineage, partition)
  window = tonumber(window)
  if window > 0 then
    local first = redis.call('HMGET', idempotency, 'seq', 'epoch', 'delivered')
    if first[1] then return { tonumber(first[1]), first[2], tonumber(first[3]), 1 } end
  end
  local known = redis.call('HMGET', meta, 'epoch', 'primary')
  local primary, failed = primaryFor(meta, known, lineage)
  if not primary then return { 'E', failed } end
  local epoch = known[1]
  -- A sequence that starts over where the topic had one (not a new topic): \`send\` may say so.
  local restarted = false
  if not epoch or (primary ~= '' and known[2] ~= primary) then
    restarted = epoch and true or false
    epoch = ARGV[6] .. i
    redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'primary', primary)
    redis.call('DEL', history)
  end
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('PEXPIRE', meta, metaTtl)
  size = tonumber(size)
  if size > 0 then
    -- RPUSH answers the length: the list is trimmed only once it is full.
    if redis.call('RPUSH', history, seq .. '\\n' .. ts .. '\\n' .. json) > size then redis.call('LTRIM', history, -size, -1) end
    redis.call('PEXPIRE', history, historyTtl)
    -- A topic new to the index joins the names too; listing prunes those that left (PRUNE_RETAINED).
    if redis.call('ZADD', KEYS[1], ts, topic) == 1 then redis.call('ZADD', KEYS[2], 0, topic) end
    retained = true
  end
  ${send}
  if window > 0 then
    redis.call('HSET', idempotency, 'seq', seq, 'epoch', epoch, 'delivered', delivered)
    redis.call('PEXPIRE', idempotency, window)
  end
  return { seq, epoch, tonumber(delivered), 0 }
end
local replies = {}
for i = 0, (#ARGV - ${BATCH_ARGS}) / ${PER_PUBLISH} - 1 do
  local k = 2 + ${keysPerPublish} * i
  local a = ${BATCH_ARGS} + ${PER_PUBLISH} * i
  local ok, reply = pcall(publish, i, KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8])
  -- A command that failed inside pcall gives a table with its error.
  replies[i + 1] = ok and reply or { 'E', type(reply) == 'table' and reply.err or tostring(reply) }
end
-- Topics whose last message has expired leave the index, so it stays bounded.
if retained then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ts) - tonumber(ARGV[3]))) end
return replies
`
}

/** One Redis's batch: PUBLISH `seq \n epoch \n ts \n json` on the topic's channel. */
export const PUBLISH_BATCH = publishBatchScript("redis.call('PUBLISH', channels .. topic, seq .. '\\n' .. epoch .. '\\n' .. ts .. '\\n' .. json)")

/**
 * KEYS: meta hash, history list.
 * ARGV: a new epoch in case the topic has none (or was written under another
 * primary, as a publish), metaTtl (ms), '1' to include the history, the
 * lineage (PRIMARY_FOR).
 * Returns { seq, epoch, history entries (oldest first) or {} }.
 */
export const SNAPSHOT = `${PRIMARY_FOR}
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'primary')
local primary, failed = primaryFor(KEYS[1], meta, ARGV[4])
if not primary then return redis.error_reply(failed) end
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
  /** The number of keys, the keys, the arguments (PUBLISH_BATCH, publish-batch.ts). */
  pubsubPublishBatch (...args: Array<string | number>): Promise<PublishReply[]>
  pubsubSnapshot (meta: string, history: string, ...args: Array<string | number>): Promise<[number, string, string[]]>
  pubsubPruneRetained (retained: string, names: string, ...args: Array<string | number>): Promise<null>
  /** `keys`: how many of the arguments are keys (the names' index, then the hashes). */
  pubsubPrunePresent (keys: number, ...args: string[]): Promise<null>
}

/** A publish's answer in a batch: seq, epoch, delivered, 1 for a duplicate; or 'E' and why it failed. */
export type PublishReply = [number, string, number, 0 | 1] | ['E', string]

/** Defines the scripts on a command connection, of one Redis or a cluster. */
export function defineScripts (redis: Redis | Cluster, publish: string): void {
  redis.defineCommand('pubsubPublishBatch', { lua: publish })
  redis.defineCommand('pubsubSnapshot', { numberOfKeys: 2, lua: SNAPSHOT })
  redis.defineCommand('pubsubPruneRetained', { numberOfKeys: 2, lua: PRUNE_RETAINED })
  redis.defineCommand('pubsubPrunePresent', { lua: PRUNE_PRESENT })
}

/** The command connection, with the scripts defined on it. */
export type ScriptedRedis = Redis & PubsubScripts

/** Defines the scripts on a command connection. */
export function scripted (redis: Redis): ScriptedRedis {
  defineScripts(redis, PUBLISH_BATCH)
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

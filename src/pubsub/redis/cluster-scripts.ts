// The Redis Cluster engine's publish script: the single-Redis one
// (scripts.ts), with every key and channel in the topic's slot group, so
// that the cluster runs it on one shard, and two SPUBLISHes instead of a
// PUBLISH: on the topic's sharded channel, then on its group's fan-in
// channel for patterns. A script may only touch keys and sharded channels of
// its own slot ("Script attempted to access a non local key"), hence the
// group's own fan-in channel. The snapshot script is the single-Redis one.
import type { Cluster } from 'ioredis'
import { SNAPSHOT, type PubsubScripts } from './scripts.js'

/**
 * KEYS: meta hash, history list, the group's retained zset, the publish's idempotency hash.
 * ARGV: as scripts.ts PUBLISH (topic, json, ts, historySize, historyTtl,
 * metaTtl, new epoch, topic channel, idempotency window, delivered, longest
 * historyTtl), then the fan-in channel.
 * Returns { seq, epoch, delivered, 1 when the key was used before else 0 }.
 *
 * Both channels carry `topic \n seq \n epoch \n ts \n json`: a fan-in
 * channel mixes topics, and one decoder serves both.
 */
export const CLUSTER_PUBLISH = `
local window = tonumber(ARGV[9])
if window > 0 then
  local first = redis.call('HMGET', KEYS[4], 'seq', 'epoch', 'delivered')
  if first[1] then return { tonumber(first[1]), first[2], tonumber(first[3]), 1 } end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[7]) == 1 then
  redis.call('DEL', KEYS[2])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local size = tonumber(ARGV[4])
if size > 0 then
  redis.call('RPUSH', KEYS[2], seq .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[2])
  redis.call('LTRIM', KEYS[2], -size, -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[11])))
end
local payload = ARGV[1] .. '\\n' .. seq .. '\\n' .. epoch .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[2]
redis.call('SPUBLISH', ARGV[8], payload)
redis.call('SPUBLISH', ARGV[12], payload)
local delivered = tonumber(ARGV[10])
if window > 0 then
  redis.call('HSET', KEYS[4], 'seq', seq, 'epoch', epoch, 'delivered', delivered)
  redis.call('PEXPIRE', KEYS[4], window)
end
return { seq, epoch, delivered, 0 }
`

/** The cluster connection, with the scripts defined on it. */
export type ScriptedCluster = Cluster & PubsubScripts

/** Defines the scripts on a cluster connection (ioredis runs each on the shard of its first key). */
export function scriptedCluster (cluster: Cluster): ScriptedCluster {
  cluster.defineCommand('pubsubPublish', { numberOfKeys: 4, lua: CLUSTER_PUBLISH })
  cluster.defineCommand('pubsubSnapshot', { numberOfKeys: 2, lua: SNAPSHOT })
  return cluster as ScriptedCluster
}

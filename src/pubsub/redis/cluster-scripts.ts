// The Redis Cluster engine's publish script: the single-Redis one
// (scripts.ts), with every key and channel in the topic's slot group, so
// that the cluster runs it on one shard, and two SPUBLISHes instead of a
// PUBLISH: on the topic's sharded channel, then on its group's fan-in
// channel for patterns. A script may only touch keys and sharded channels of
// its own slot ("Script attempted to access a non local key"), hence the
// group's own fan-in channel. The other scripts are the single-Redis ones.
import type { Cluster } from 'ioredis'
import { defineScripts, publishScript, type PubsubScripts } from './scripts.js'

/**
 * KEYS: meta hash, history list, the group's retained zset, the publish's
 * idempotency hash, the group's retained names.
 * ARGV: as scripts.ts PUBLISH (topic, json, ts, historySize, historyTtl,
 * metaTtl, new epoch, topic channel, idempotency window, delivered, longest
 * historyTtl), then the fan-in channel and the primary's replication id
 * (scripts.ts `lineage`: a topic last written under another
 * primary starts a new epoch, as with PUBLISH).
 * Returns { seq, epoch, delivered, 1 when the key was used before else 0 }.
 *
 * Both channels carry `topic \n seq \n epoch \n ts \n json`: a fan-in
 * channel mixes topics, and one decoder serves both.
 */
export const CLUSTER_PUBLISH = publishScript(13, `local payload = ARGV[1] .. '\\n' .. seq .. '\\n' .. epoch .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[2]
redis.call('SPUBLISH', ARGV[8], payload)
redis.call('SPUBLISH', ARGV[12], payload)`)

/** The cluster connection, with the scripts defined on it. */
export type ScriptedCluster = Cluster & PubsubScripts

/** Defines the scripts on a cluster connection (ioredis runs each on the shard of its first key). */
export function scriptedCluster (cluster: Cluster): ScriptedCluster {
  defineScripts(cluster, CLUSTER_PUBLISH)
  return cluster as ScriptedCluster
}

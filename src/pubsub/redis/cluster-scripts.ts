// The Redis Cluster engine's publish script: the single-Redis batch
// (scripts.ts), its keys and channels all in one slot group, so that the
// cluster runs it on one shard, with two SPUBLISHes instead of a PUBLISH:
// on the topic's sharded channel, then on its group's fan-in channel for
// its partition, for patterns. A script may only touch keys and sharded
// channels of its own slot ("Script attempted to access a non local key"),
// hence a fan-in channel per group. The other scripts are the single-Redis ones.
import type { Cluster } from 'ioredis'
import { defineScripts, publishBatchScript, type PubsubScripts } from './scripts.js'

/**
 * As scripts.ts PUBLISH_BATCH, for the publishes of one slot group. Both
 * channels carry `topic \n seq \n epoch \n ts \n json` (a fan-in channel
 * mixes topics, and one decoder serves both); a fan-in channel's messages
 * start with its own count, `n \n`, one more each time (the publish's fourth
 * key): a node that sees it jump, or go back, lost messages of the channel
 * (cluster-engine.ts #onFanIn). `n! \n`: the topic's sequence restarted
 * (a new epoch over an old one), which its pattern subscribers are told.
 */
export const CLUSTER_PUBLISH_BATCH = publishBatchScript(`local payload = topic .. '\\n' .. seq .. '\\n' .. epoch .. '\\n' .. ts .. '\\n' .. json
  redis.call('SPUBLISH', channels .. topic, payload)
  redis.call('SPUBLISH', fanIns .. partition, redis.call('INCR', fanInCount) .. (restarted and '!\\n' or '\\n') .. payload)`, 4)

/** The cluster connection, with the scripts defined on it. */
export type ScriptedCluster = Cluster & PubsubScripts

/** Defines the scripts on a cluster connection (ioredis runs each on the shard of its first key). */
export function scriptedCluster (cluster: Cluster): ScriptedCluster {
  defineScripts(cluster, CLUSTER_PUBLISH_BATCH)
  return cluster as ScriptedCluster
}

// Lua run inside Redis, so that seq, epoch, history and the PUBLISH of one
// message happen as one step: every node sees the same seq for a message,
// and a topic's order is Redis's order.

/**
 * KEYS: meta hash, history list, retained zset, the publish's idempotency hash.
 * ARGV: topic, json, ts, historySize, historyTtl (ms), metaTtl (ms), a new
 * epoch in case the topic has none, channel, idempotency window (ms; 0: the
 * publish has no key).
 * Returns { seq, epoch, nodes reached, 1 when the key was used before (and
 * nothing was published) else 0 }.
 *
 * History entries are `seq \n ts \n json`; PUBLISH payloads `seq \n epoch \n ts \n json`.
 */
export const PUBLISH = `
local window = tonumber(ARGV[9])
if window > 0 then
  local first = redis.call('HMGET', KEYS[4], 'seq', 'epoch', 'reached')
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
  -- Topics whose last message has expired leave the index, so it stays bounded.
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[5])))
end
local reached = redis.call('PUBLISH', ARGV[8], seq .. '\\n' .. epoch .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[2])
if window > 0 then
  redis.call('HSET', KEYS[4], 'seq', seq, 'epoch', epoch, 'reached', reached)
  redis.call('PEXPIRE', KEYS[4], window)
end
return { seq, epoch, reached, 0 }
`

/**
 * KEYS: meta hash, history list.
 * ARGV: a new epoch in case the topic has none, metaTtl (ms), '1' to include the history.
 * Returns { seq, epoch, history entries (oldest first) or {} }.
 */
export const SNAPSHOT = `
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'seq', 0)
  redis.call('DEL', KEYS[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local meta = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
local history = {}
if ARGV[3] == '1' then history = redis.call('LRANGE', KEYS[2], 0, -1) end
return { tonumber(meta[1]), meta[2], history }
`

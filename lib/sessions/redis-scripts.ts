// Lua run atomically inside Redis. One sorted set per seat pool: member = session key,
// score = the epoch ms at which the seat expires. Every script first drops expired seats, so
// cleanup needs no separate job, and refreshes the set's own TTL so an abandoned pool
// disappears once its last seat could have expired.

/**
 * KEYS[1] pool; ARGV: now, expiresAt, maxSessions, member, poolTtlMs.
 * Returns { granted (1|0), live seats after the call }.
 */
export const REGISTER_SCRIPT = `
local pool = KEYS[1]
local expiresAt = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', pool, '-inf', ARGV[1])
local live = redis.call('ZCARD', pool)
local score = redis.call('ZSCORE', pool, ARGV[4])
local granted = 0
if score then
  granted = 1
  if tonumber(score) < expiresAt then redis.call('ZADD', pool, expiresAt, ARGV[4]) end
elseif live < tonumber(ARGV[3]) then
  granted = 1
  live = live + 1
  redis.call('ZADD', pool, expiresAt, ARGV[4])
end
if granted == 1 and redis.call('PTTL', pool) < tonumber(ARGV[5]) then
  redis.call('PEXPIRE', pool, ARGV[5])
end
return { granted, live }
`

/**
 * Heartbeat batch. KEYS[1] pool; ARGV: now, maxSessions, poolTtlMs, then pairs
 * (expiresAt, member). A member still seated is extended; one whose seat expired is seated
 * again if there is room, else reported lost. Returns { live seats, lost members }.
 */
export const HEARTBEAT_SCRIPT = `
local pool = KEYS[1]
local max = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', pool, '-inf', ARGV[1])
local live = redis.call('ZCARD', pool)
local lost = {}
for i = 4, #ARGV, 2 do
  local expiresAt = tonumber(ARGV[i])
  local member = ARGV[i + 1]
  local score = redis.call('ZSCORE', pool, member)
  if score then
    if tonumber(score) < expiresAt then redis.call('ZADD', pool, expiresAt, member) end
  elseif live < max then
    live = live + 1
    redis.call('ZADD', pool, expiresAt, member)
  else
    lost[#lost + 1] = member
  end
end
if live > 0 and redis.call('PTTL', pool) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', pool, ARGV[3])
end
return { live, lost }
`

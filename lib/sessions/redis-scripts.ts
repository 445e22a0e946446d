// Lua run atomically inside Redis. One sorted set per seat pool: member = session key (see
// encodeMember), score = the epoch ms, on Redis's own clock (TIME), at which the seat expires. Callers send
// how long a seat must live from now, never a time of their own: hosts' clocks may disagree,
// and a fast one would otherwise free every other host's seats early. Every script first drops
// expired seats, so cleanup needs no separate job, and refreshes the set's own TTL so an
// abandoned pool disappears once its last seat could have expired.
//
// TIME before a write is allowed: Redis 5+ replicates a script's effects, not the script.

/** A lone surrogate, the one thing a JS string can hold that UTF-8 cannot. */
const LONE_SURROGATE = /\p{Cs}/u

/**
 * The member a session key is stored as. Redis stores strings as UTF-8, where every lone
 * surrogate becomes U+FFFD, so keys differing only there would share one seat. A well-formed
 * key not starting with NUL is stored as it is (readable in redis-cli); any other key as NUL
 * followed by the lowercase hex of its UTF-16LE code units. The two forms cannot collide.
 */
export function encodeMember (key: string): string {
  if (key.charCodeAt(0) !== 0 && !LONE_SURROGATE.test(key)) return key
  return '\0' + Buffer.from(key, 'utf16le').toString('hex')
}

/** The session key a member was encoded from. */
export function decodeMember (member: string): string {
  return member.charCodeAt(0) === 0 ? Buffer.from(member.slice(1), 'hex').toString('utf16le') : member
}

/** Redis's clock in epoch ms, as `now`. */
const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * KEYS[1] pool; ARGV: lifeMs, maxSessions, member, poolTtlMs.
 * Returns { granted (1|0), live seats after the call, the new seat's score or 0 when the
 * member held a seat already or got none }.
 */
export const REGISTER_SCRIPT = `${NOW}
local pool = KEYS[1]
local expiresAt = now + tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', pool, '-inf', now)
local live = redis.call('ZCARD', pool)
local score = redis.call('ZSCORE', pool, ARGV[3])
local granted = 0
local added = 0
if score then
  granted = 1
  if tonumber(score) < expiresAt then redis.call('ZADD', pool, expiresAt, ARGV[3]) end
elseif live < tonumber(ARGV[2]) then
  granted = 1
  live = live + 1
  added = expiresAt
  redis.call('ZADD', pool, expiresAt, ARGV[3])
end
if granted == 1 and redis.call('PTTL', pool) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', pool, ARGV[4])
end
return { granted, live, added }
`

/**
 * Give back a seat taken by a register whose answer came too late: the request was refused.
 * KEYS[1] pool; ARGV: member, score the register gave it. A different score means the seat was
 * registered or extended since, by a session that was let in: it stays. Returns 1 if removed.
 */
export const RELEASE_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
`

/**
 * Heartbeat batch. KEYS[1] pool; ARGV: maxSessions, poolTtlMs, then pairs (lifeMs, member).
 * A member still seated is extended; one whose seat expired is seated again if there is room,
 * else reported lost. Returns { live seats, lost members }.
 */
export const HEARTBEAT_SCRIPT = `${NOW}
local pool = KEYS[1]
local max = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', pool, '-inf', now)
local live = redis.call('ZCARD', pool)
local lost = {}
for i = 3, #ARGV, 2 do
  local expiresAt = now + tonumber(ARGV[i])
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
if live > 0 and redis.call('PTTL', pool) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', pool, ARGV[2])
end
return { live, lost }
`

/** KEYS[1] pool. Returns the live seats, by Redis's clock. */
export const COUNT_SCRIPT = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`

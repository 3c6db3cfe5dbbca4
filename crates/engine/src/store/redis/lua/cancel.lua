-- Cancels a task held by no one in the calling process (`me`): REVOKED if it waits; a
-- request to its worker if it runs elsewhere. ARGV: P, id, now, me.
-- Returns 'missing', 'revoked', 'here', 'requested' or 'final:<state>'.
local id, now, me = ARGV[2], ARGV[3], ARGV[4]
local t = task_key(id)
local f = redis.call('HMGET', t, 's', 'o', 'n', 'q', 'seq')
if not f[1] then return 'missing' end
if f[1] == '0' or f[1] == '5' then
  redis.call('HSET', t, 's', 6, 'ca', now)
  redis.call('ZREM', ready_key(f[3], f[4]), line_member(f[5], id))
  redis.call('ZREM', P .. ':delayed', id)
  redis.call('ZADD', done_key(f[3]), now, id)
  count(f[1], f[4], -1)
  count(6, f[4], 1)
  flush_counts()
  announce_finished({ id })
  return 'revoked'
end
if f[1] == '1' or f[1] == '2' then
  if f[2] == me then return 'here' end
  redis.call('HSET', t, 'x', 1)
  redis.call('PUBLISH', P .. ':ev', 'c' .. f[2] .. ' ' .. id)
  return 'requested'
end
return 'final:' .. f[1]

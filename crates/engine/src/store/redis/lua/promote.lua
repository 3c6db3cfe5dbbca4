-- Delayed tasks and retries whose time has come join their lines.
-- ARGV: P, now, limit. Returns {promoted, next due time or -1}.
local now, limit = ARGV[2], tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', P .. ':delayed', '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', task_key(id), 's', 'n', 'q', 'p', 'seq')
  if f[1] == '0' or f[1] == '5' then to_ready(id, f[2], f[3], f[4], f[5]) end
  redis.call('ZREM', P .. ':delayed', id)
end
if #ids > 0 then redis.call('PUBLISH', P .. ':ev', 'w') end
local first = redis.call('ZRANGE', P .. ':delayed', 0, 0, 'WITHSCORES')
return { #ids, first[2] or '-1' }

-- ex.clean(…), a chunk at a time: deletes finished tasks of one name completed at or
-- before `cutoff`, in the given states (digits, e.g. '346') and queue ('' = any), with
-- their logs. The finished set is read from `skip` on (entries kept by earlier chunks).
-- ARGV: P, name, cutoff, states, queue, skip, chunk. Returns {removed, scanned}.
local name, cutoff, states, queue = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local skip, chunk = tonumber(ARGV[6]), tonumber(ARGV[7])
local ids = redis.call('ZRANGEBYSCORE', done_key(name), '-inf', cutoff, 'LIMIT', skip, chunk)
local removed = 0
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', task_key(id), 's', 'q')
  if not f[1] then
    redis.call('ZREM', done_key(name), id)
    removed = removed + 1
  elseif string.find(states, f[1], 1, true) and (queue == '' or f[2] == queue) then
    forget(id)
    removed = removed + 1
  end
end
flush_counts()
return { removed, #ids }

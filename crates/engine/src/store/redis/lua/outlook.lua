-- Whether unfinished tasks this worker could run exist (ready, delayed, or held by a
-- worker that might die), and the earliest due time. ARGV: P, then (name, queue) pairs.
-- A paused queue's ready tasks do not count. Returns {0 or 1, due or -1}.
local any = 0
for i = 2, #ARGV - 1, 2 do
  local ready = redis.call('ZCARD', ready_key(ARGV[i], ARGV[i + 1])) > 0
    and redis.call('SISMEMBER', P .. ':paused', ARGV[i + 1]) == 0
  if ready or tonumber(redis.call('HGET', P .. ':running', ARGV[i]) or '0') > 0 then
    any = 1
    break
  end
end
local first = redis.call('ZRANGE', P .. ':delayed', 0, 0, 'WITHSCORES')
if first[2] then any = 1 end
return { any, first[2] or '-1' }

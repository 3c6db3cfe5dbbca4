-- Whether unfinished tasks this worker could run exist (ready, delayed, or held by a
-- worker that might die), and the earliest due time. ARGV: P, names...
-- Returns {0 or 1, due or -1}.
local any = 0
for i = 2, #ARGV do
  if redis.call('ZCARD', ready_key(ARGV[i])) > 0
    or tonumber(redis.call('HGET', P .. ':running', ARGV[i]) or '0') > 0 then
    any = 1
    break
  end
end
local first = redis.call('ZRANGE', P .. ':delayed', 0, 0, 'WITHSCORES')
if first[2] then any = 1 end
return { any, first[2] or '-1' }

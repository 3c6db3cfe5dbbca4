-- Tasks of workers whose lease expired (the process died or lost its machine) go back
-- to their line with the attempt counted. A lost run does not use up the retry budget
-- once: a task is only given up (FAILURE) when lost again with no attempts left, so a
-- task that kills its process cannot crash-loop forever.
-- ARGV: P, now, retry_error, fail_error. Returns the number of tasks recovered.
local now = tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', P .. ':workers', '-inf', now - 1)
local recovered, fin, ready = 0, {}, false
for _, w in ipairs(dead) do
  for _, id in ipairs(redis.call('SMEMBERS', owned_key(w))) do
    local t = task_key(id)
    local f = redis.call('HMGET', t, 'o', 's', 'n', 'q', 'p', 'seq', 'a', 'm')
    if f[1] == w and (f[2] == '1' or f[2] == '2') then
      redis.call('HINCRBY', P .. ':running', f[3], -1)
      count(f[2], f[4], -1)
      if tonumber(f[7]) > tonumber(f[8]) then
        redis.call('HSET', t, 's', 4, 'err', ARGV[4], 'ca', now)
        redis.call('ZADD', done_key(f[3]), now, id)
        count(4, f[4], 1)
        fin[#fin + 1] = id
      else
        redis.call('HSET', t, 's', 5, 'err', ARGV[3])
        to_ready(id, f[3], f[4], f[5], f[6])
        count(5, f[4], 1)
        ready = true
      end
      recovered = recovered + 1
    end
  end
  redis.call('DEL', owned_key(w))
  redis.call('ZREM', P .. ':workers', w)
end
flush_counts()
if ready then redis.call('PUBLISH', P .. ':ev', 'w') end
if #fin > 0 then announce_finished(fin) end
return recovered

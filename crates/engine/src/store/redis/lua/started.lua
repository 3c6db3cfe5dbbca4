-- Claimed tasks whose handlers started: STARTED. ARGV: P, worker, at, ids...
local worker, at = ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local t = task_key(ARGV[i])
  local f = redis.call('HMGET', t, 'o', 's', 'q')
  if f[1] == worker and f[2] == '1' then
    redis.call('HSET', t, 's', 2, 'sa', at)
    count(1, f[3], -1)
    count(2, f[3], 1)
  end
end
flush_counts()
return 1

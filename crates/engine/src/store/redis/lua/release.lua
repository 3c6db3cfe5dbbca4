-- Claimed tasks this worker will not run after all (it is closing): back to their line,
-- the claim's attempt given back. ARGV: P, worker, ids...
local worker = ARGV[2]
for i = 3, #ARGV do
  local id = ARGV[i]
  local t = task_key(id)
  local f = redis.call('HMGET', t, 'o', 's', 'n', 'q', 'p', 'seq', 'a')
  if f[1] == worker and (f[2] == '1' or f[2] == '2') then
    local attempt = tonumber(f[7]) - 1
    local state = attempt <= 0 and 0 or 5
    redis.call('HSET', t, 's', state, 'a', attempt)
    redis.call('HDEL', t, 'o', 'sa')
    redis.call('SREM', owned_key(worker), id)
    redis.call('HINCRBY', P .. ':running', f[3], -1)
    to_ready(id, f[3], f[4], f[5], f[6])
    count(f[2], f[4], -1)
    count(state, f[4], 1)
  end
end
flush_counts()
redis.call('PUBLISH', P .. ':ev', 'w')
return 1

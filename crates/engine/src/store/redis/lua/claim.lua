-- Claims the first `limit` ready tasks among the wanted names (highest priority, then
-- FIFO), at most `max` of each, and within each name's `maxParallel` across every
-- process: RECEIVED, leased to `worker`, attempt counted. Renews the worker's lease.
-- ARGV: P, worker, limit, lease_until, m, then m × (name, max, max_parallel or -1).
-- Returns rows {name, id, priority, attempt, payload, created_at, run_at, key, error, seq}.
local worker, limit, lease_until, m = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
redis.call('ZADD', P .. ':workers', lease_until, worker)
local cands = {}
for j = 0, m - 1 do
  local name, max, mp = ARGV[6 + j * 3], tonumber(ARGV[7 + j * 3]), tonumber(ARGV[8 + j * 3])
  if mp >= 0 then
    local running = tonumber(redis.call('HGET', P .. ':running', name) or '0')
    max = math.min(max, mp - running)
  end
  max = math.min(max, limit)
  if max > 0 then
    local r = redis.call('ZRANGE', ready_key(name), 0, max - 1, 'WITHSCORES')
    for i = 1, #r, 2 do cands[#cands + 1] = { tonumber(r[i + 1]), r[i], name } end
  end
end
table.sort(cands, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local out = {}
local owned = {}
for i = 1, math.min(#cands, limit) do
  local c = cands[i]
  local id = string.sub(c[2], 17)
  redis.call('ZREM', ready_key(c[3]), c[2])
  local t = task_key(id)
  local f = redis.call('HMGET', t, 's', 'q', 'a', 'd', 'c', 'r', 'k', 'err', 'seq', 'p')
  if f[1] == '0' or f[1] == '5' then
    local attempt = tonumber(f[3]) + 1
    redis.call('HSET', t, 's', 1, 'o', worker, 'a', attempt)
    redis.call('HDEL', t, 'sa')
    redis.call('HINCRBY', P .. ':running', c[3], 1)
    count(f[1], f[2], -1)
    count(1, f[2], 1)
    owned[#owned + 1] = id
    out[#out + 1] = { c[3], id, f[10], attempt, f[4], f[5], f[6] or '', f[7] or '', f[8] or '', f[9] }
  end
end
if #owned > 0 then redis.call('SADD', owned_key(worker), unpack(owned)) end
flush_counts()
return out

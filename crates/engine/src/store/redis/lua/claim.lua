-- Claims the first `limit` ready tasks among the wanted names (highest priority, then
-- FIFO), at most `max` of each, within each name's `maxParallel` and rate limit across
-- every process: RECEIVED, leased to `worker`, attempt counted. Renews the worker's lease.
-- The rate limit is a GCRA: `{ns}:rate:<name>` holds the theoretical arrival time; one
-- task costs `emission` ms; `burst` tasks may be claimed back to back.
-- ARGV: P, worker, limit, lease_until, now, m,
--       then m × (name, queue, max, max_parallel or -1, emission ms or -1, burst).
-- A paused queue's tasks are not claimed.
-- Returns {rows, wait, waits}: rows {name, id, priority, attempt, payload, created_at,
-- run_at, key, error, seq, cancel asked, traceparent}; wait is when a rate-limited name may claim again (-1: none
-- is); waits lists each such name and its time (name, at, name, at…).
local worker, limit, lease_until = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now, m = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZADD', P .. ':workers', lease_until, worker)
local cands = {}
local rates = {}
local wait = -1
local waits = {}
for j = 0, m - 1 do
  local b = 7 + j * 6
  local name, queue, max, mp = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local emission, burst = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  if redis.call('SISMEMBER', P .. ':paused', queue) == 1 then max = 0 end
  if mp >= 0 then
    local running = tonumber(redis.call('HGET', P .. ':running', name) or '0')
    max = math.min(max, mp - running)
  end
  if emission > 0 and max > 0 then
    local tat = math.max(tonumber(redis.call('GET', P .. ':rate:' .. name) or '0'), now)
    local allowed = math.floor((now - tat) / emission + burst + 1e-9)
    if allowed <= 0 then
      local at = math.ceil(tat - burst * emission + emission)
      if wait < 0 or at < wait then wait = at end
      waits[#waits + 1] = name
      waits[#waits + 1] = at
    end
    max = math.min(max, allowed)
    rates[name] = { tat, emission }
  end
  max = math.min(max, limit)
  if max > 0 then
    -- Popped now; those that do not make the cut across names are put back below.
    local r = redis.call('ZPOPMIN', ready_key(name, queue), max)
    for i = 1, #r, 2 do cands[#cands + 1] = { tonumber(r[i + 1]), r[i], name, queue } end
  end
end
if m > 1 then
  table.sort(cands, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
end
for i = limit + 1, #cands do
  redis.call('ZADD', ready_key(cands[i][3], cands[i][4]), cands[i][1], cands[i][2])
end
local out = {}
local owned = {}
local taken = {}
for i = 1, math.min(#cands, limit) do
  local c = cands[i]
  local id = string.sub(c[2], 17)
  local t = task_key(id)
  local f = redis.call('HMGET', t, 's', 'q', 'a', 'd', 'c', 'r', 'k', 'err', 'seq', 'p', 'x', 'tp')
  if f[1] == '0' or f[1] == '5' then
    local attempt = tonumber(f[3]) + 1
    redis.call('HSET', t, 's', 1, 'o', worker, 'a', attempt)
    if attempt > 1 then redis.call('HDEL', t, 'sa') end
    count(f[1], f[2], -1)
    count(1, f[2], 1)
    owned[#owned + 1] = id
    taken[c[3]] = (taken[c[3]] or 0) + 1
    -- x: a cancel was asked while it was held by a worker that then died.
    out[#out + 1] = { c[3], id, f[10], attempt, f[4], f[5], f[6] or '', f[7] or '', f[8] or '', f[9], f[11] or '', f[12] or '' }
  end
end
for name, k in pairs(taken) do redis.call('HINCRBY', P .. ':running', name, k) end
if #owned > 0 then each_chunk('SADD', owned_key(worker), owned) end
for name, r in pairs(rates) do
  if taken[name] then
    local tat = r[1] + taken[name] * r[2]
    redis.call('SET', P .. ':rate:' .. name, tostring(tat), 'PX', math.ceil(tat - now) + 1000)
  end
end
flush_counts()
return { out, wait, waits }

-- ARGV: P, now, name, queue, priority, max_attempts, created_at, run_at, traceparent
--       or '', n, then n × (id, payload, key or '').
-- Returns the id of an existing task when a key matched ('' otherwise).
local now = tonumber(ARGV[2])
local name, queue, prio, maxa, created = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local run_at = tonumber(ARGV[8])
local trace = ARGV[9]
local n = tonumber(ARGV[10])
local last = redis.call('INCRBY', P .. ':seq', n)
local delayed = run_at > now
local added, existing = 0, ''
for i = 0, n - 1 do
  local id, payload, key = ARGV[11 + i * 3], ARGV[12 + i * 3], ARGV[13 + i * 3]
  local seq = last - n + 1 + i
  local fresh = true
  if key ~= '' then
    local prev = redis.call('HGET', P .. ':keys', key)
    if prev and redis.call('EXISTS', task_key(prev)) == 1 then
      existing, fresh = prev, false
    else
      redis.call('HSET', P .. ':keys', key, id)
    end
  end
  if fresh then
    local t = task_key(id)
    redis.call('HSET', t, 'n', name, 'q', queue, 's', 0, 'p', prio, 'm', maxa, 'd', payload,
      'c', created, 'a', 0, 'seq', seq)
    if key ~= '' then redis.call('HSET', t, 'k', key) end
    if run_at > 0 then redis.call('HSET', t, 'r', run_at) end
    if trace ~= '' then redis.call('HSET', t, 'tp', trace) end
    redis.call('ZADD', P .. ':all', seq, id)
    if delayed then
      redis.call('ZADD', P .. ':delayed', run_at, id)
    else
      to_ready(id, name, queue, prio, seq)
    end
    added = added + 1
  end
end
if added > 0 then
  redis.call('SADD', P .. ':names', name)
  count(0, queue, added)
  flush_counts()
  if delayed then
    redis.call('PUBLISH', P .. ':ev', 'd' .. run_at)
  else
    redis.call('PUBLISH', P .. ':ev', 'w' .. name)
  end
end
return existing

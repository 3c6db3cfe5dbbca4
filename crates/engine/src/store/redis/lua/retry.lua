-- Failed runs held by `worker` that run again: RETRY, back to their line now or at
-- their due time. ARGV: P, worker, now, n, then n × (id, error, due_at).
local worker, now, n = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ready, due_min = false, nil
for i = 0, n - 1 do
  local b = 5 + i * 3
  local id, due = ARGV[b], tonumber(ARGV[b + 2])
  local t = task_key(id)
  local f = redis.call('HMGET', t, 'o', 's', 'n', 'q', 'p', 'seq')
  if f[1] == worker and (f[2] == '1' or f[2] == '2') then
    redis.call('HSET', t, 's', 5, 'err', ARGV[b + 1])
    redis.call('SREM', owned_key(worker), id)
    redis.call('HINCRBY', P .. ':running', f[3], -1)
    if due > now then
      redis.call('ZADD', P .. ':delayed', due, id)
      if not due_min or due < due_min then due_min = due end
    else
      to_ready(id, f[3], f[4], f[5], f[6])
      ready = true
    end
    count(f[2], f[4], -1)
    count(5, f[4], 1)
  end
end
flush_counts()
if ready then redis.call('PUBLISH', P .. ':ev', 'w') end
if due_min then redis.call('PUBLISH', P .. ':ev', 'd' .. due_min) end
return 1

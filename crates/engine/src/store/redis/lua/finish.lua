-- Final outcomes of runs held by `worker` (a task taken over after its lease expired is
-- not this worker's any more: its late outcome is ignored). Announces the finished ids.
-- ARGV: P, worker, n, then n × (id, state, attempt, result, error, at, started_at);
-- result and error are '' when absent, started_at 0 when the run never started.
local worker, n = ARGV[2], tonumber(ARGV[3])
local fin = {}
for i = 0, n - 1 do
  local b = 4 + i * 7
  local id = ARGV[b]
  local t = task_key(id)
  local f = redis.call('HMGET', t, 'o', 's', 'n', 'q')
  if f[1] == worker and (f[2] == '1' or f[2] == '2') then
    redis.call('HSET', t, 's', ARGV[b + 1], 'a', ARGV[b + 2], 'ca', ARGV[b + 5])
    if ARGV[b + 3] ~= '' then redis.call('HSET', t, 'res', ARGV[b + 3]) end
    if ARGV[b + 4] ~= '' then redis.call('HSET', t, 'err', ARGV[b + 4]) end
    if ARGV[b + 6] ~= '0' then redis.call('HSET', t, 'sa', ARGV[b + 6]) end
    redis.call('SREM', owned_key(worker), id)
    redis.call('HINCRBY', P .. ':running', f[3], -1)
    redis.call('ZADD', done_key(f[3]), ARGV[b + 5], id)
    count(f[2], f[4], -1)
    count(ARGV[b + 1], f[4], 1)
    fin[#fin + 1] = id
  end
end
flush_counts()
if #fin > 0 then redis.call('PUBLISH', P .. ':ev', 'f' .. table.concat(fin, ' ')) end
return #fin

-- Final outcomes of runs held by `worker` (a task taken over after its lease expired is
-- not this worker's any more: its late outcome is ignored). Announces the finished ids.
-- ARGV: P, worker, then n × (id, state, attempt, result, error, at, started_at);
-- result and error are '' when absent, started_at 0 when the run never started.
local worker = ARGV[2]
local n = (#ARGV - 2) / 7
local fin = {}
local done = {}    -- name -> {at, id, at, id…}
local running = {} -- name -> finished here
for i = 0, n - 1 do
  local b = 3 + i * 7
  local id = ARGV[b]
  local t = task_key(id)
  local f = redis.call('HMGET', t, 'o', 's', 'n', 'q')
  if f[1] == worker and (f[2] == '1' or f[2] == '2') then
    local set = { 's', ARGV[b + 1], 'a', ARGV[b + 2], 'ca', ARGV[b + 5] }
    if ARGV[b + 3] ~= '' then set[#set + 1] = 'res'; set[#set + 1] = ARGV[b + 3] end
    if ARGV[b + 4] ~= '' then set[#set + 1] = 'err'; set[#set + 1] = ARGV[b + 4] end
    if ARGV[b + 6] ~= '0' then set[#set + 1] = 'sa'; set[#set + 1] = ARGV[b + 6] end
    redis.call('HSET', t, unpack(set))
    local name = f[3]
    running[name] = (running[name] or 0) + 1
    local d = done[name]
    if not d then d = {}; done[name] = d end
    d[#d + 1] = ARGV[b + 5]
    d[#d + 1] = id
    count(f[2], f[4], -1)
    count(ARGV[b + 1], f[4], 1)
    fin[#fin + 1] = id
  end
end
if #fin > 0 then
  each_chunk('SREM', owned_key(worker), fin)
  for name, k in pairs(running) do redis.call('HINCRBY', P .. ':running', name, -k) end
  for name, d in pairs(done) do each_chunk('ZADD', done_key(name), d, 1000) end
  announce_finished(fin)
end
flush_counts()
return #fin

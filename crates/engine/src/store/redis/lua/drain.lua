-- ex.drain(queue), a chunk at a time: deletes tasks of `queue` waiting to run (PENDING,
-- or RETRY waiting for its delay), not claimed ones. Mode 'ready' takes the head of the
-- name's ready line; mode 'delayed' reads the delayed set from `skip` on. Announces the
-- deleted ids, so that whoever awaits one learns it is gone.
-- ARGV: P, mode, queue, name ('' for delayed), skip, chunk. Returns {removed, scanned}.
local mode, queue, name = ARGV[2], ARGV[3], ARGV[4]
local skip, chunk = tonumber(ARGV[5]), tonumber(ARGV[6])
local gone = {}
local scanned = 0
if mode == 'ready' then
  local members = redis.call('ZRANGE', ready_key(name, queue), 0, chunk - 1)
  scanned = #members
  for _, m in ipairs(members) do
    local id = string.sub(m, 17)
    local s = redis.call('HGET', task_key(id), 's')
    if s == '0' or s == '5' then
      forget(id)
      gone[#gone + 1] = id
    else
      redis.call('ZREM', ready_key(name, queue), m) -- a stale entry
    end
  end
else
  local ids = redis.call('ZRANGE', P .. ':delayed', skip, skip + chunk - 1)
  scanned = #ids
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', task_key(id), 's', 'q')
    if not f[1] then
      redis.call('ZREM', P .. ':delayed', id)
      gone[#gone + 1] = id
    elseif f[2] == queue and (f[1] == '0' or f[1] == '5') then
      forget(id)
      gone[#gone + 1] = id
    end
  end
end
flush_counts()
if #gone > 0 then announce_finished(gone) end
return { #gone, scanned }

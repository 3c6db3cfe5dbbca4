-- Brings a namespace written by an older taskloom to the current key layout; run once
-- when a store opens. ARGV: P. Returns the layout version now in place.
-- 2: ready lines per (name, queue), where version 1 had one per name.
local layout = tonumber(redis.call('GET', P .. ':layout') or '1')
if layout < 2 then
  for _, name in ipairs(redis.call('SMEMBERS', P .. ':names')) do
    local old = P .. ':ready:' .. name
    local rows = redis.call('ZRANGE', old, 0, -1, 'WITHSCORES')
    for i = 1, #rows, 2 do
      local id = string.sub(rows[i], 17)
      local queue = redis.call('HGET', task_key(id), 'q')
      if queue then redis.call('ZADD', ready_key(name, queue), rows[i + 1], rows[i]) end
    end
    redis.call('DEL', old)
  end
  redis.call('SET', P .. ':layout', 2)
end
return 2

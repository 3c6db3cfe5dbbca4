-- Retention, a chunk at a time: finished tasks beyond a group's count or older than its
-- age are deleted with their logs. A group is one task name with its own retention, or
-- every other name (the executor's retention).
-- ARGV: P, now, chunk, keep_count, keep_age (-1: none), g, then g × (name, count, age).
-- Returns the number deleted.
local now, remaining = tonumber(ARGV[2]), tonumber(ARGV[3])
local function delete(name, id)
  -- A finished set's entry whose task is gone already: dropped all the same.
  if not forget(id) then redis.call('ZREM', done_key(name), id) end
  remaining = remaining - 1
end
-- The oldest finished task among `names`: name, id.
local function oldest(names)
  local best_name, best_id, best_at = nil, nil, nil
  for _, name in ipairs(names) do
    local r = redis.call('ZRANGE', done_key(name), 0, 0, 'WITHSCORES')
    if r[1] and (not best_at or tonumber(r[2]) < best_at) then
      best_name, best_id, best_at = name, r[1], tonumber(r[2])
    end
  end
  return best_name, best_id, best_at
end
local function trim_group(names, keep, age)
  if age >= 0 then
    while remaining > 0 do
      local name, id, at = oldest(names)
      if not id or at > now - age then break end
      delete(name, id)
    end
  end
  local total = 0
  for _, name in ipairs(names) do total = total + redis.call('ZCARD', done_key(name)) end
  local excess = total - keep
  while excess > 0 and remaining > 0 do
    local name, id = oldest(names)
    if not id then break end
    delete(name, id)
    excess = excess - 1
  end
end
local own = {}
local g = tonumber(ARGV[6])
for i = 0, g - 1 do
  local name = ARGV[7 + i * 3]
  own[name] = true
  trim_group({ name }, tonumber(ARGV[8 + i * 3]), tonumber(ARGV[9 + i * 3]))
end
local rest = {}
for _, name in ipairs(redis.call('SMEMBERS', P .. ':names')) do
  if not own[name] then rest[#rest + 1] = name end
end
trim_group(rest, tonumber(ARGV[4]), tonumber(ARGV[5]))
flush_counts()
return tonumber(ARGV[3]) - remaining

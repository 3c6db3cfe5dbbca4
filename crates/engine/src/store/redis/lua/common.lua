-- Shared by every script (prepended when the scripts are built). Keys all start with
-- the hash-tagged prefix P = '{namespace}', so one script only touches one cluster slot.
-- Task states: 0 PENDING, 1 RECEIVED, 2 STARTED, 3 SUCCESS, 4 FAILURE, 5 RETRY, 6 REVOKED.
local P = ARGV[1]
local function task_key(id) return P .. ':t:' .. id end
-- One ready line per (task name, queue): a worker claims only the queues it works.
local function ready_key(name, queue) return P .. ':ready:' .. queue .. ':' .. name end
local function done_key(name) return P .. ':done:' .. name end
local function owned_key(worker) return P .. ':owned:' .. worker end
-- A ready line orders by score (-priority), then by member: the zero-padded seq, so FIFO.
local function line_member(seq, id) return string.format('%016x', tonumber(seq)) .. id end
local counts = {}
local function count(state, queue, delta)
  local field = state .. ':' .. queue
  counts[field] = (counts[field] or 0) + delta
end
local function flush_counts()
  for field, delta in pairs(counts) do
    if delta ~= 0 then redis.call('HINCRBY', P .. ':counts', field, delta) end
  end
end
local function to_ready(id, name, queue, prio, seq)
  redis.call('ZADD', ready_key(name, queue), -tonumber(prio), line_member(seq, id))
end
-- `cmd key list…` in chunks: Lua's unpack has a limit of a few thousand values.
local function each_chunk(cmd, key, list, step)
  step = step or 1000
  for i = 1, #list, step do
    redis.call(cmd, key, unpack(list, i, math.min(i + step - 1, #list)))
  end
end
-- Tasks reached a final state: logged for processes awaiting many tasks (one stream entry
-- per batch, ids joined by commas; about the last 100,000 batches kept), then announced.
local function announce_finished(ids)
  redis.call('XADD', P .. ':fin', 'MAXLEN', '~', 100000, '*', 'ids', table.concat(ids, ','))
  redis.call('PUBLISH', P .. ':ev', 'f')
end
-- Deletes a task with its log from everything that may hold it: the counts, its key,
-- the list, its finished set, its ready line and the delayed set. False if there is none.
local function forget(id)
  local t = task_key(id)
  local f = redis.call('HMGET', t, 's', 'q', 'k', 'n', 'seq')
  if not f[1] then return false end
  count(f[1], f[2], -1)
  if f[3] and redis.call('HGET', P .. ':keys', f[3]) == id then
    redis.call('HDEL', P .. ':keys', f[3])
  end
  redis.call('DEL', t, P .. ':log:' .. id, P .. ':arts:' .. id)
  redis.call('ZREM', P .. ':all', id)
  redis.call('ZREM', done_key(f[4]), id)
  if f[1] == '0' or f[1] == '5' then
    redis.call('ZREM', ready_key(f[4], f[2]), line_member(f[5], id))
    redis.call('ZREM', P .. ':delayed', id)
  end
  return true
end

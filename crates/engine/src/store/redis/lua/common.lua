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

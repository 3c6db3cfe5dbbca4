-- ctx.saveArtifact: stores an artifact document of a task in `{ns}:arts:<id>` (field n,
-- counter '#'), deleted with the task by forget(). ARGV: P, id, doc, max.
-- Returns the artifact's number, 0 when the task has max already, or 'missing'.
local id = ARGV[2]
if redis.call('EXISTS', task_key(id)) == 0 then return 'missing' end
local key = P .. ':arts:' .. id
local last = tonumber(redis.call('HGET', key, '#') or '0')
if last >= tonumber(ARGV[4]) then return '0' end
redis.call('HSET', key, '#', last + 1, tostring(last + 1), ARGV[3])
return tostring(last + 1)

-- ex.remove(id): deletes a finished task (SUCCESS, FAILURE, REVOKED) and its log.
-- ARGV: P, id. Returns 'missing', 'state:<s>' or 'removed'.
local id = ARGV[2]
local s = redis.call('HGET', task_key(id), 's')
if not s then return 'missing' end
if s ~= '3' and s ~= '4' and s ~= '6' then return 'state:' .. s end
forget(id)
flush_counts()
return 'removed'

-- ex.retry(id): a FAILURE or REVOKED task waits to run again, keeping its attempts and
-- its last error. ARGV: P, id. Returns 'missing', 'state:<s>' or 'requeued'.
local id = ARGV[2]
local t = task_key(id)
local f = redis.call('HMGET', t, 's', 'n', 'q', 'p', 'seq')
if not f[1] then return 'missing' end
if f[1] ~= '4' and f[1] ~= '6' then return 'state:' .. f[1] end
redis.call('HSET', t, 's', 0)
redis.call('HDEL', t, 'ca', 'res', 'sa', 'o', 'x', 'pr', 'pm', 'st')
redis.call('ZREM', done_key(f[2]), id)
to_ready(id, f[2], f[3], f[4], f[5])
count(f[1], f[3], -1)
count(0, f[3], 1)
flush_counts()
redis.call('PUBLISH', P .. ':ev', 'w' .. f[2])
return 'requeued'

// A design probe for the Redis store's hot path (issue 14, item 6), not part of `npm run
// bench`: redis-server CPU per task of bare key layouts, with no engine around them, on a
// private redis-server. 20,000 no-op tasks: submitted in pipelines of 1,000, then claimed
// and finished 50 at a time.
//   node bench/redis-layouts.mjs <hashes|streams|streams-results>
//   hashes          taskloom's present layout (a hash per task written at submit, claim and
//                   outcome, read at claim and outcome; ready line, submit order, owned set,
//                   finished line, finish log) as plain pipelined commands, without Lua
//   streams         a stream with a consumer group: XADD, XREADGROUP, XACK + XDEL
//   streams-results the same, each batch's outcomes appended to a second stream
import Redis from 'ioredis'
import { startRedis } from '../__test__/support/redis-server.mjs'
import { serverCpu } from './redis-stats.mjs'

const layout = process.argv[2]
const n = 20_000
const BATCH = 50
const redis = await startRedis()
const r = new Redis(redis.url)

const id = (i) => `0192d5b0-0000-7000-8000-${String(i).padStart(12, '0')}`

async function hashes() {
  for (let i = 0; i < n; i += 1000) {
    const p = r.pipeline()
    for (let j = i; j < i + 1000; j++) {
      p.hset(`{q}:t:${id(j)}`, 'n', 'noop', 'q', 'default', 's', 0, 'p', 0, 'm', 1, 'd', String(j), 'c', Date.now(), 'a', 0, 'seq', j)
      p.zadd('{q}:all', j, id(j))
      p.zadd('{q}:ready:default:noop', 0, String(j).padStart(16, '0') + id(j))
    }
    await p.exec()
  }
  for (let done = 0; done < n; ) {
    const popped = await r.zpopmin('{q}:ready:default:noop', BATCH)
    const ids = popped.filter((_, k) => k % 2 === 0).map((m) => m.slice(16))
    const claim = r.pipeline()
    for (const t of ids) {
      claim.hmget(`{q}:t:${t}`, 's', 'q', 'a', 'd', 'c', 'r', 'k', 'err', 'seq', 'p', 'x', 'tp')
      claim.hset(`{q}:t:${t}`, 's', 1, 'o', 'w1', 'a', 1)
    }
    claim.sadd('{q}:owned:w1', ...ids)
    await claim.exec()
    const finish = r.pipeline()
    for (const t of ids) {
      finish.hmget(`{q}:t:${t}`, 'o', 's', 'n', 'q')
      finish.hset(`{q}:t:${t}`, 's', 3, 'a', 1, 'ca', Date.now(), 'res', 'null', 'sa', Date.now())
    }
    finish.srem('{q}:owned:w1', ...ids)
    finish.zadd('{q}:done:noop', ...ids.flatMap((t) => [Date.now(), t]))
    finish.xadd('{q}:fin', 'MAXLEN', '~', 100000, '*', 'ids', ids.join(','))
    await finish.exec()
    done += ids.length
  }
}

async function streams(withResults) {
  await r.xgroup('CREATE', '{q}:s', 'g', '$', 'MKSTREAM')
  for (let i = 0; i < n; i += 1000) {
    const p = r.pipeline()
    for (let j = i; j < i + 1000; j++) p.xadd('{q}:s', '*', 'n', 'noop', 'd', String(j))
    await p.exec()
  }
  for (let done = 0; done < n; ) {
    const res = await r.xreadgroup('GROUP', 'g', 'w1', 'COUNT', BATCH, 'STREAMS', '{q}:s', '>')
    const ids = res[0][1].map((e) => e[0])
    const p = r.pipeline()
    p.xack('{q}:s', 'g', ...ids)
    if (withResults) p.xadd('{q}:done', 'MAXLEN', '~', 100000, '*', 'ids', ids.join(','), 'res', JSON.stringify(ids.map(() => null)))
    p.xdel('{q}:s', ...ids)
    await p.exec()
    done += ids.length
  }
}

const run = { hashes, streams: () => streams(false), 'streams-results': () => streams(true) }[layout]
if (run === undefined) throw new Error(`unknown layout ${layout} (hashes, streams, streams-results)`)
const cpu0 = await serverCpu(r)
await run()
const cpu = (await serverCpu(r)) - cpu0
console.log(JSON.stringify({ layout, tasks: n, serverCpuUsPerTask: (cpu * 1e6) / n }))
r.disconnect()
await redis.stop()

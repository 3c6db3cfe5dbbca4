// One durable-store measurement in a fresh process: the cost of awaiting every result
// against onIdle(), with the worker in the same process.
//   node durable-awaited.mjs <sqlite|redis> <idle|awaited> <n>
// 20,000 no-op tasks at concurrency 50, submitted with submitMany in chunks of 1,000.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor } from '../index.mjs'
import { startRedis } from '../__test__/support/redis-server.mjs'

const [storeKind, kind, nText] = process.argv.slice(2)
const n = Number(nText ?? 20_000)
let store
let cleanup
if (storeKind === 'sqlite') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-bench-'))
  store = `sqlite:${path.join(dir, 'bench.db')}`
  cleanup = async () => fs.rmSync(dir, { recursive: true, force: true })
} else if (storeKind === 'redis') {
  const redis = await startRedis()
  store = redis.url
  cleanup = () => redis.stop()
} else {
  throw new Error(`unknown store ${storeKind}`)
}

const ex = new Executor({ store, concurrency: 50 })
ex.register('noop', async () => null)
const chunk = new Array(1000).fill(null)
const t0 = performance.now()
const handles = []
for (let done = 0; done < n; done += chunk.length) handles.push(...(await ex.submitMany('noop', chunk)))
if (kind === 'awaited') await Promise.all(handles.map((h) => h.result()))
else if (kind === 'idle') await ex.onIdle()
else throw new Error(`unknown kind ${kind}`)
const perSec = (n / (performance.now() - t0)) * 1000
await ex.close()
await cleanup()
console.log(JSON.stringify({ store: storeKind, kind, n, perSec }))

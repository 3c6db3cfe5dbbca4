// A worker process for bench/redis-peers.mjs: `node redis-worker.mjs <impl> <url>
// <plain|fail-once> <concurrency>`. Prints "ready" once it can take tasks; runs until
// SIGTERM.
import { contender } from './redis-contenders.mjs'

const [impl, url, mode, concurrency] = process.argv.slice(2)
const c = await contender(impl, url, { worker: true, concurrency: Number(concurrency), retry: mode === 'fail-once' })
const keepAlive = setInterval(() => {}, 1000)
process.stdout.write('ready\n')
process.once('SIGTERM', async () => {
  clearInterval(keepAlive)
  await c.close()
  process.exit(0)
})

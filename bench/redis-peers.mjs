// One Redis-store measurement in a fresh process, on a redis-server of its own (a free
// loopback port, no persistence): `node redis-peers.mjs <kind> <impl> <n>`. Prints one
// JSON line. Contenders: taskloom, BullMQ, bee-queue — all on the same kind of server.
//   enqueue   — n tasks submitted in bulk (no worker): tasks/s
//   e2e1/e2e4 — 1 or 4 worker processes (concurrency 50 each) are up; n tasks are
//               submitted in bulk and run (no-op async handler): tasks/s, submit to last done
//   retry     — as e2e1, but every task fails its first attempt and succeeds on the retry
//   latency   — n serial submit → result round trips, worker in the same process (p50/p99 µs)
//   delayed   — n tasks delayed 100 ms, submitted ~1 ms apart: lateness of each start (p50/p99 ms)
//   commands  — as e2e1, counting the server's commands (INFO commandstats, reset once the
//               worker is ready; commands run inside Lua scripts count too) and its CPU
//               time (INFO cpu): both per task
//   chords    — 1 worker process is up; n chords of CHORD_WIDTH tasks and a callback that sums
//               their results are submitted, and run: chords/s, submit to last callback done
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { startRedis } from '../__test__/support/redis-server.mjs'
import Redis from 'ioredis'
import { contender } from './redis-contenders.mjs'
import { commandCalls, serverCpu } from './redis-stats.mjs'

const [kind, impl, nText] = process.argv.slice(2)
const n = Number(nText)
const DELAY = 100
const CHORD_WIDTH = 10
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const workerScript = fileURLToPath(new URL('./redis-worker.mjs', import.meta.url))

const children = []
// Worker processes never outlive a measurement, however it ends.
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')))

const redis = await startRedis()
let result
try {
  result = await measure()
} finally {
  await redis.stop()
}
console.log(JSON.stringify(result))
process.exit(0)

function startWorkers(count, mode) {
  return Promise.all(
    Array.from({ length: count }, () => {
      const child = spawn(process.execPath, [workerScript, impl, redis.url, mode, '50'], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      return new Promise((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (d) => {
          out += d
          if (out.includes('ready')) resolve(child)
        })
        child.on('exit', (code) => reject(new Error(`${impl} worker exited (${code}) before it was ready`)))
      })
    }),
  )
}

async function untilDone(c, count) {
  while ((await c.succeeded()) < count) await sleep(5)
}

async function measure() {
  const payloads = Array.from({ length: n }, (_, i) => i)
  if (kind === 'enqueue') {
    const c = await contender(impl, redis.url, { worker: false })
    const t0 = performance.now()
    await c.addMany(payloads)
    const secs = (performance.now() - t0) / 1000
    await c.close()
    return { perSec: n / secs }
  }
  if (kind === 'e2e1' || kind === 'e2e4' || kind === 'retry') {
    const workers = await startWorkers(kind === 'e2e4' ? 4 : 1, kind === 'retry' ? 'fail-once' : 'plain')
    const c = await contender(impl, redis.url, { worker: false, retry: kind === 'retry' })
    const t0 = performance.now()
    await c.addMany(payloads)
    await untilDone(c, n)
    const secs = (performance.now() - t0) / 1000
    await Promise.all(workers.map((w) => new Promise((r) => (w.once('exit', r), w.kill('SIGTERM')))))
    await c.close()
    return { perSec: n / secs }
  }
  if (kind === 'commands') {
    const workers = await startWorkers(1, 'plain')
    const c = await contender(impl, redis.url, { worker: false })
    const stats = new Redis(redis.url)
    await stats.config('RESETSTAT')
    const cpu0 = await serverCpu(stats)
    await c.addMany(payloads)
    // Polled rarely, so that the poll's own commands stay out of the count.
    while ((await c.succeeded()) < n) await sleep(200)
    const calls = await commandCalls(stats)
    const cpu = (await serverCpu(stats)) - cpu0
    stats.disconnect()
    await Promise.all(workers.map((w) => new Promise((r) => (w.once('exit', r), w.kill('SIGTERM')))))
    await c.close()
    const total = Object.values(calls).reduce((a, k) => a + k, 0)
    const top = Object.entries(calls)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([name, k]) => `${name} ${(k / n).toFixed(2)}`)
    return { perTask: total / n, top: top.join(', '), cpuUsPerTask: (cpu * 1e6) / n }
  }
  if (kind === 'chords') {
    const workers = await startWorkers(1, 'plain')
    const c = await contender(impl, redis.url, { worker: false })
    const t0 = performance.now()
    await c.addChords(n, CHORD_WIDTH)
    while ((await c.chordsDone()) < n) await sleep(5)
    const secs = (performance.now() - t0) / 1000
    await Promise.all(workers.map((w) => new Promise((r) => (w.once('exit', r), w.kill('SIGTERM')))))
    await c.close()
    return { perSec: n / secs }
  }
  if (kind === 'latency') {
    const c = await contender(impl, redis.url, { worker: true, concurrency: 50 })
    const times = []
    for (let i = 0; i < n + 50; i++) {
      const t0 = performance.now()
      await c.run(i)
      if (i >= 50) times.push((performance.now() - t0) * 1000) // after a warm-up
    }
    await c.close()
    return { p50us: quantile(times, 0.5), p99us: quantile(times, 0.99) }
  }
  if (kind === 'delayed') {
    const late = []
    const c = await contender(impl, redis.url, {
      worker: true,
      concurrency: 50,
      onStart: (due) => late.push(Date.now() - due),
    })
    for (let i = 0; i < n; i++) {
      await c.addDelayed(Date.now() + DELAY, DELAY)
      await sleep(1)
    }
    while (late.length < n) await sleep(10)
    await c.close()
    return { p50ms: quantile(late, 0.5), p99ms: quantile(late, 0.99), count: n }
  }
  throw new Error(`unknown kind ${kind}`)
}

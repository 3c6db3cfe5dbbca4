// One SQLite-store measurement in a fresh process: `node sqlite-peers.mjs <kind> <impl> <n>`.
// Prints one JSON line. Every contender persists to a file on disk (WAL) in a temp dir.
//   throughput — submit n in bulk, then drain them (taskloom at concurrency 256)
//   single     — n submits one after another, each awaited until durable
//   burst      — n single submits issued at once (as many callers would), all awaited
//   latency    — n serial submit → result round trips (p50/p99 µs)
//   delayed    — n tasks delayed 100 ms, submitted ~1 ms apart: lateness of each start (p50/p99 ms)
//   backlog    — n tasks pending, then the first 50,000 drained (claims against a deep line)
//   rss        — peak RSS with n tasks pending (no worker)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'

const [kind, impl, nText] = process.argv.slice(2)
const n = Number(nText)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-bench-'))
const file = path.join(dir, 'queue.db')
const DELAY = 100
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

/** A contender: submit one / many, wait for a task, and hooks for runs and completions. */
async function open(worker, onStart) {
  if (impl === 'taskloom') {
    const { Executor } = await import('../index.mjs')
    const ex = new Executor({ store: `sqlite:${file}`, concurrency: 256, worker })
    ex.register('bench', async (x) => {
      onStart?.(x)
      return x
    })
    return {
      add: async (x, delay) => (await ex.submit('bench', x, delay ? { delayMs: delay } : undefined)),
      addMany: (xs, delay) => ex.submitMany('bench', xs, delay ? { delayMs: delay } : undefined),
      result: (h) => h.result(),
      idle: () => ex.onIdle(),
      close: () => ex.close(),
    }
  }
  if (impl === 'plainjob') {
    const { default: Database } = await import('better-sqlite3')
    const { better, defineQueue, defineWorker } = await import('plainjob')
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    const queue = defineQueue({ connection: better(db), logger: quiet })
    const waiting = new Map()
    let pending = 0
    let onDrained = null
    const w = defineWorker('bench', async (job) => onStart?.(JSON.parse(job.data)), {
      queue,
      pollIntervall: 1,
      logger: quiet,
      onCompleted: (job) => {
        waiting.get(job.id)?.()
        waiting.delete(job.id)
        if (--pending === 0) onDrained?.()
      },
    })
    if (worker) w.start()
    return {
      add: async (x, delay) => {
        pending++
        return queue.add('bench', x, delay ? { delay } : undefined).id
      },
      addMany: async (xs, delay) => {
        pending += xs.length
        return queue.addMany('bench', xs, delay ? { delay } : undefined).ids
      },
      result: (id) => new Promise((resolve) => waiting.set(id, resolve)),
      idle: () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => (onDrained = resolve))),
      close: async () => {
        if (worker) await w.stop()
        queue.close()
      },
    }
  }
  if (impl === 'liteque') {
    const { buildDBClient, SqliteQueue, Runner } = await import('liteque')
    const db = buildDBClient(file, { runMigrations: true })
    const queue = new SqliteQueue('bench', db, { defaultJobArgs: { numRetries: 0 }, keepFailedJobs: false })
    const waiting = new Map()
    let pending = 0
    let onDrained = null
    const runner = new Runner(queue, {
      run: async (job) => onStart?.(job.data),
      onComplete: async (job) => {
        waiting.get(String(job.id))?.()
        waiting.delete(String(job.id))
        if (--pending === 0) onDrained?.()
      },
    }, { pollIntervalMs: 1, timeoutSecs: 60, concurrency: 256 })
    if (worker) runner.run()
    return {
      add: async (x, delay) => {
        pending++
        return String((await queue.enqueue(x, delay ? { delayMs: delay } : undefined)).id)
      },
      addMany: async (xs, delay) => {
        pending += xs.length
        const ids = []
        for (const x of xs) ids.push((await queue.enqueue(x, delay ? { delayMs: delay } : undefined)).id)
        return ids
      },
      result: (id) => new Promise((resolve) => waiting.set(id, resolve)),
      idle: () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => (onDrained = resolve))),
      close: async () => runner.stop(),
    }
  }
  throw new Error(`unknown contender ${impl}`)
}

const quiet = { info() {}, warn() {}, error() {}, debug() {}, log() {} }

let out
if (kind === 'throughput') {
  const q = await open(true)
  const t0 = performance.now()
  await q.addMany(Array.from({ length: n }, (_, i) => i))
  const submitted = performance.now()
  await q.idle()
  const ms = performance.now() - t0
  out = { perSec: (n / ms) * 1000, submitMs: submitted - t0 }
  await q.close()
} else if (kind === 'backlog') {
  // Claim cost against a deep line: n tasks pending, then drain the first 50,000.
  const producer = await open(false)
  for (let i = 0; i < n; i += 100_000) await producer.addMany(Array.from({ length: Math.min(100_000, n - i) }, (_, j) => i + j))
  await producer.close()
  let done = 0
  let finished
  const drained = new Promise((resolve) => (finished = resolve))
  const t0 = performance.now()
  const q = await open(true, () => {
    if (++done === 50_000) finished()
  })
  await drained
  out = { perSec: (50_000 / (performance.now() - t0)) * 1000 }
  await q.close()
} else if (kind === 'single') {
  const q = await open(false)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await q.add(i)
  out = { perSec: (n / (performance.now() - t0)) * 1000 }
  await q.close()
} else if (kind === 'burst') {
  const q = await open(false)
  const t0 = performance.now()
  await Promise.all(Array.from({ length: n }, (_, i) => q.add(i)))
  out = { perSec: (n / (performance.now() - t0)) * 1000 }
  await q.close()
} else if (kind === 'latency') {
  const q = await open(true)
  const times = []
  for (let i = 0; i < n + 50; i++) {
    const t0 = performance.now()
    await q.result(await q.add(i))
    if (i >= 50) times.push((performance.now() - t0) * 1000)
  }
  out = { p50us: quantile(times, 0.5), p99us: quantile(times, 0.99) }
  await q.close()
} else if (kind === 'delayed') {
  // Submitted one by one, about a millisecond apart, each delayed 100 ms: how late
  // does each start, measured from its own due time?
  const late = []
  const due = new Map()
  const q = await open(true, (x) => late.push(Date.now() - due.get(x)))
  for (let i = 0; i < n; i++) {
    due.set(i, Date.now() + DELAY)
    await q.add(i, DELAY)
    if (i % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await q.idle()
  out = { p50ms: quantile(late, 0.5), p99ms: quantile(late, 0.99), count: late.length }
  await q.close()
} else if (kind === 'rss') {
  const q = await open(false)
  const chunk = 50_000
  for (let i = 0; i < n; i += chunk) await q.addMany(Array.from({ length: Math.min(chunk, n - i) }, (_, j) => i + j))
  globalThis.gc?.()
  await new Promise((resolve) => setTimeout(resolve, 100))
  out = { peakMb: process.resourceUsage().maxRSS / 1024, settledMb: process.memoryUsage().rss / 2 ** 20 }
  await q.close()
}
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify(out))
process.exit(0)

// One in-memory measurement in this process; prints one JSON line.
//   node bench/memory-peers.mjs <throughput|awaited|singles|rss|latency> <ceiling|floor|taskloom|taskloom-policies|p-queue> [n]
// `floor` (awaited, singles, latency): the least any queue behind taskloom's API shape does
// in plain JS — a promise of a handle per submit, a handle, a result promise, a run at
// concurrency 256 — with no engine, store, ids, options or events. The gap to it is
// what taskloom's engine and bookkeeping cost; the gap from it to p-queue is the API's.
// Run by bench/run.mjs, which compares the results.
import { Executor } from '../index.mjs'
import PQueue from 'p-queue'

const [kind, impl, nArg] = process.argv.slice(2)
const N = Number(nArg ?? 1_000_000)
const CONCURRENCY = 256
const noop = async () => {}

function report(obj) {
  process.stdout.write(JSON.stringify({ kind, impl, n: N, ...obj }) + '\n')
}

async function throughput() {
  if (impl === 'ceiling') {
    const t0 = performance.now()
    for (let i = 0; i < N; i++) await noop()
    return report({ perSec: N / ((performance.now() - t0) / 1000) })
  }
  if (impl === 'taskloom' || impl === 'taskloom-policies' || impl === 'taskloom-no-metrics') {
    // taskloom-no-metrics: the same with the engine's run counting off, for its cost.
    const ex = new Executor({ concurrency: CONCURRENCY, ...(impl === 'taskloom-no-metrics' ? { metrics: false } : {}) })
    // The policies' own cost: a rate limit that never binds and a breaker that stays closed.
    const policies = { rateLimit: { limit: 4_000_000_000, intervalMs: 1000 }, circuitBreaker: { failureThreshold: 1000 } }
    ex.register('noop', noop, impl === 'taskloom-policies' ? policies : {})
    const payloads = new Array(N).fill(null)
    const t0 = performance.now()
    await ex.submitMany('noop', payloads)
    await ex.onIdle()
    const perSec = N / ((performance.now() - t0) / 1000)
    await ex.close()
    return report({ perSec })
  }
  if (impl === 'p-queue') {
    const q = new PQueue({ concurrency: CONCURRENCY })
    const t0 = performance.now()
    for (let i = 0; i < N; i++) q.add(noop)
    await q.onIdle()
    return report({ perSec: N / ((performance.now() - t0) / 1000) })
  }
  throw new Error(`unknown impl ${impl}`)
}

/** A FIFO at CONCURRENCY in plain JS with taskloom's API shape (see `floor` above). */
class FloorHandle {
  constructor() {
    this.done = false
    this.resolve = null
  }

  result() {
    return this.done ? Promise.resolve(null) : new Promise((r) => (this.resolve = r))
  }
}

class FloorQueue {
  constructor() {
    this.queue = []
    this.head = 0
    this.running = 0
  }

  #next() {
    while (this.running < CONCURRENCY && this.head < this.queue.length) {
      const h = this.queue[this.head]
      this.queue[this.head++] = undefined
      this.running++
      noop().then(() => {
        this.running--
        h.done = true
        if (h.resolve !== null) h.resolve(null)
        this.#next()
      })
    }
  }

  submit(_name, _payload) {
    const h = new FloorHandle()
    this.queue.push(h)
    this.#next()
    return Promise.resolve(h)
  }

  async close() {}

  async submitMany(_name, payloads) {
    const k = payloads.length
    const hs = new Array(k)
    for (let i = 0; i < k; i++) this.queue.push((hs[i] = new FloorHandle()))
    this.#next()
    return hs
  }
}

/**
 * The paths users write: every result awaited. `awaited`: submitMany in chunks of 10,000,
 * then Promise.all over every handle's result() — against Promise.all over q.add
 * promises. `singles`: one submit() per task in a loop, each .then(h => h.result()).
 * Both report throughput and the peak RSS.
 */
async function awaitedPaths(kind) {
  let perSec
  const t0 = performance.now()
  if (impl === 'taskloom' || impl === 'floor') {
    const ex = impl === 'floor' ? new FloorQueue() : new Executor({ concurrency: CONCURRENCY })
    if (impl === 'taskloom') ex.register('noop', noop)
    if (kind === 'awaited') {
      const handles = []
      const chunk = new Array(10_000).fill(null)
      for (let done = 0; done < N; done += chunk.length) handles.push(...(await ex.submitMany('noop', chunk)))
      await Promise.all(handles.map((h) => h.result()))
    } else {
      const results = new Array(N)
      for (let i = 0; i < N; i++) results[i] = ex.submit('noop', null).then((h) => h.result())
      await Promise.all(results)
    }
    perSec = N / ((performance.now() - t0) / 1000)
    await ex.close()
  } else if (impl === 'p-queue') {
    const q = new PQueue({ concurrency: CONCURRENCY })
    const results = new Array(N)
    for (let i = 0; i < N; i++) results[i] = q.add(noop)
    await Promise.all(results)
    perSec = N / ((performance.now() - t0) / 1000)
  } else {
    throw new Error(`unknown impl ${impl}`)
  }
  report({ perSec, peakMb: process.resourceUsage().maxRSS / 1024 })
}

/** Peak RSS with N tasks queued and none run. */
async function rss() {
  const base = process.memoryUsage().rss
  if (impl === 'taskloom') {
    // One slot, held by a task that never ends: the rest stay queued.
    const ex = new Executor({ concurrency: 1 })
    ex.register('noop', () => new Promise(() => {}))
    const chunk = new Array(100_000).fill(null)
    for (let done = 0; done < N; done += chunk.length) await ex.submitMany('noop', chunk)
  } else if (impl === 'p-queue') {
    const q = new PQueue({ concurrency: CONCURRENCY, autoStart: false })
    for (let i = 0; i < N; i++) q.add(noop)
    if (q.size !== N) throw new Error('p-queue did not queue everything')
  } else {
    throw new Error(`unknown impl ${impl}`)
  }
  globalThis.gc?.()
  const peakMb = process.resourceUsage().maxRSS / 1024
  report({ peakMb, baseMb: base / 1e6 })
  process.exit(0)
}

/** Serial submit → result round trips. */
async function latency() {
  const samples = []
  if (impl === 'taskloom') {
    const ex = new Executor()
    ex.register('noop', noop)
    for (let i = 0; i < N + 100; i++) {
      const t0 = process.hrtime.bigint()
      const t = await ex.submit('noop', null)
      await t.result()
      if (i >= 100) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
    }
    await ex.close()
  } else if (impl === 'floor') {
    const q = new FloorQueue()
    for (let i = 0; i < N + 100; i++) {
      const t0 = process.hrtime.bigint()
      const t = await q.submit()
      await t.result()
      if (i >= 100) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
    }
  } else if (impl === 'p-queue') {
    const q = new PQueue({ concurrency: CONCURRENCY })
    for (let i = 0; i < N + 100; i++) {
      const t0 = process.hrtime.bigint()
      await q.add(noop)
      if (i >= 100) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
    }
  } else {
    throw new Error(`unknown impl ${impl}`)
  }
  samples.sort((a, b) => a - b)
  const at = (p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]
  report({ p50us: at(50), p99us: at(99) })
}

await { throughput, rss, latency, awaited: () => awaitedPaths('awaited'), singles: () => awaitedPaths('singles') }[kind]()

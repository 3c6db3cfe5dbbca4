// `npm run bench`: taskloom against its peers, in one run on this machine, printing
// ratios (absolute numbers here are noisy; ratios from the same run are not).
// Each measurement runs in a fresh child process. Throughput runs are interleaved — one
// round runs every contender once — so that drift of this machine's speed hits all of
// them alike; BENCH_RUNS (default 5) sets the rounds, and the median is reported.
// BENCH_N scales the task counts down for a quick look. BENCH_ONLY=memory|sqlite|redis|http|ui
// runs one section.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import os from 'node:os'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const N = Number(process.env.BENCH_N ?? 1_000_000)
const script = fileURLToPath(new URL('./memory-peers.mjs', import.meta.url))
const rateScript = fileURLToPath(new URL('./rate-peers.mjs', import.meta.url))

function run(file, args) {
  const out = execFileSync(process.execPath, ['--expose-gc', file, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 })
  return JSON.parse(out.trim().split('\n').at(-1))
}

function measure(kind, impl, n) {
  return run(script, [kind, impl, String(n)])
}

const wanted = (section) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY === section
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (x) => Math.round(x).toLocaleString('en-US')

console.log(`taskloom benchmarks — ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0].model}, ` +
  `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${RUNS} run(s) each\n`)

if (wanted('memory')) {
  console.log(`In memory: ${fmt(N)} no-op async tasks submitted in bulk, drained at concurrency 256 (median of ${RUNS})`)
  const contenders = ['ceiling', 'taskloom', 'p-queue', 'taskloom-policies', 'taskloom-no-metrics']
  const samples = Object.fromEntries(contenders.map((c) => [c, []]))
  for (let round = 0; round < RUNS; round++) {
    for (const impl of contenders) samples[impl].push(measure('throughput', impl, N).perSec)
  }
  const tp = Object.fromEntries(contenders.map((c) => [c, median(samples[c])]))
  console.log(`  plain JS await loop (ceiling) ${fmt(tp.ceiling).padStart(12)} tasks/s`)
  console.log(`  taskloom                      ${fmt(tp.taskloom).padStart(12)} tasks/s   ${(tp.taskloom / tp['p-queue']).toFixed(2)}× p-queue`)
  console.log(`  p-queue                       ${fmt(tp['p-queue']).padStart(12)} tasks/s`)
  console.log(`  taskloom, metrics off         ${fmt(tp['taskloom-no-metrics']).padStart(12)} tasks/s   metrics cost ${(((tp['taskloom-no-metrics'] - tp.taskloom) / tp['taskloom-no-metrics']) * 100).toFixed(1)}% (noise here is about ±10%)`)

  // The paths users write: every result awaited (p-queue: Promise.all over q.add).
  for (const [kind, n, what] of [
    ['awaited', N, `${fmt(N)} tasks, submitMany in chunks of 10,000, every result awaited (Promise.all)`],
    ['singles', Math.round(0.3 * N), `${fmt(0.3 * N)} single submit() calls in a loop, each result awaited`],
  ]) {
    // floor: the same API shape in plain JS with no engine (bench/memory-peers.mjs).
    const runs = { taskloom: [], 'p-queue': [], floor: [] }
    for (let round = 0; round < RUNS; round++) for (const impl of Object.keys(runs)) runs[impl].push(measure(kind, impl, n))
    const per = (impl) => median(runs[impl].map((r) => r.perSec))
    const mb = (impl) => median(runs[impl].map((r) => r.peakMb))
    console.log(`\n${what} (median of ${RUNS}; p-queue: Promise.all over q.add)`)
    console.log(`  taskloom ${fmt(per('taskloom')).padStart(12)} tasks/s   ${(per('taskloom') / per('p-queue')).toFixed(2)}× p-queue` +
      (kind === 'awaited' ? `, ${((per('taskloom') / tp.taskloom) * 100).toFixed(0)}% of its own onIdle() throughput` : '') +
      `   peak RSS ${fmt(mb('taskloom'))} MB (${((mb('taskloom') / mb('p-queue')) * 100).toFixed(0)}% of p-queue)`)
    console.log(`  p-queue  ${fmt(per('p-queue')).padStart(12)} tasks/s                                        peak RSS ${fmt(mb('p-queue'))} MB`)
    console.log(`  floor    ${fmt(per('floor')).padStart(12)} tasks/s   ${(per('floor') / per('p-queue')).toFixed(2)}× p-queue (this API in plain JS, no engine)   peak RSS ${fmt(mb('floor'))} MB (${((mb('floor') / mb('p-queue')) * 100).toFixed(0)}% of p-queue)`)
  }

  console.log(`\nPeak RSS with ${fmt(N)} tasks queued (none run)`)
  const rss = { taskloom: measure('rss', 'taskloom', N).peakMb, 'p-queue': measure('rss', 'p-queue', N).peakMb }
  console.log(`  taskloom ${fmt(rss.taskloom).padStart(8)} MB   ${((rss.taskloom / rss['p-queue']) * 100).toFixed(0)}% of p-queue`)
  console.log(`  p-queue  ${fmt(rss['p-queue']).padStart(8)} MB`)

  // Warmed up: with 1,000 round trips most of them ran before the JIT had compiled the path.
  console.log('\nSerial submit → result latency, 20,000 round trips')
  const lat = Object.fromEntries(['taskloom', 'p-queue', 'floor'].map((impl) => [impl, measure('latency', impl, 20_000)]))
  for (const impl of ['taskloom', 'p-queue', 'floor']) {
    console.log(`  ${impl.padEnd(9)} p50 ${lat[impl].p50us.toFixed(1).padStart(7)} µs   p99 ${lat[impl].p99us.toFixed(1).padStart(7)} µs`)
  }

  console.log('\nRate limiting: starts per whole second after the first, with a large backlog (4 s each)')
  console.log('  limit/s    taskloom (rateLimit)            Bottleneck (minTime)            p-queue (intervalCap)')
  for (const rate of [100, 1000, 10000]) {
    const cells = ['taskloom', 'bottleneck', 'p-queue'].map((impl) => {
      const r = run(rateScript, [impl, String(rate)])
      return `${r.perSecond.slice(1).join('/')} (±${r.worstErrorPct.toFixed(1)}%)`.padEnd(32)
    })
    console.log(`  ${String(rate).padStart(7)}    ${cells.join('')}`)
  }

  const cost = (1 - tp['taskloom-policies'] / tp.taskloom) * 100
  console.log(`\nPolicy overhead: an unbinding rate limit + a closed breaker on every task`)
  console.log(`  with: ${fmt(tp['taskloom-policies'])} tasks/s, without: ${fmt(tp.taskloom)} tasks/s — cost ${cost.toFixed(1)}% (median of ${RUNS}; a negative cost is noise, which is about ±10% here)`)

}

if (wanted('sqlite')) {
  // ---- SQLite: durable on disk -------------------------------------------------------
  const sqliteScript = fileURLToPath(new URL('./sqlite-peers.mjs', import.meta.url))
  const sq = (kind, impl, n) => run(sqliteScript, [kind, impl, String(n)])
  // The peers are much slower: they get fewer tasks, and every figure is per second.
  const SQ = { taskloom: 100_000, plainjob: 20_000, liteque: 2_000 }
  const sqPeers = ['taskloom', 'plainjob', 'liteque']
  const scale = (impl, f) => Math.max(50, Math.round(SQ[impl] * f * Math.min(1, N / 1_000_000)))
  console.log(`\nSQLite, durable on disk (WAL): bulk submit then drain (taskloom at concurrency 256; median of ${RUNS})`)
  const sqTp = Object.fromEntries(sqPeers.map((c) => [c, []]))
  for (let round = 0; round < RUNS; round++) {
    for (const impl of sqPeers) sqTp[impl].push(sq('throughput', impl, scale(impl, 1)).perSec)
  }
  const sqMed = Object.fromEntries(sqPeers.map((c) => [c, median(sqTp[c])]))
  const bestPeer = Math.max(sqMed.plainjob, sqMed.liteque)
  for (const impl of sqPeers) {
    const ratio = impl === 'taskloom' ? `   ${(sqMed.taskloom / bestPeer).toFixed(1)}× the best SQLite peer` : ''
    console.log(`  ${impl.padEnd(9)} ${fmt(sqMed[impl]).padStart(9)} tasks/s (${fmt(scale(impl, 1))} tasks)${ratio}`)
  }
  console.log('\nSQLite: single submits, one after another, each awaited until durable')
  const single = Object.fromEntries(sqPeers.map((impl) => [impl, sq('single', impl, scale(impl, impl === 'liteque' ? 0.5 : 0.05)).perSec]))
  for (const impl of sqPeers) console.log(`  ${impl.padEnd(9)} ${fmt(single[impl]).padStart(9)} submits/s`)
  console.log('\nSQLite: single submits issued together (many callers at once), all awaited until durable')
  const burst = Object.fromEntries(sqPeers.map((impl) => [impl, sq('burst', impl, scale(impl, impl === 'liteque' ? 0.5 : 0.05)).perSec]))
  for (const impl of sqPeers) console.log(`  ${impl.padEnd(9)} ${fmt(burst[impl]).padStart(9)} submits/s`)
  console.log('\nSQLite: serial submit → result latency')
  for (const impl of sqPeers) {
    const r = sq('latency', impl, impl === 'liteque' ? 200 : 1000)
    console.log(`  ${impl.padEnd(9)} p50 ${r.p50us.toFixed(0).padStart(6)} µs   p99 ${r.p99us.toFixed(0).padStart(6)} µs`)
  }
  console.log('\nSQLite: lateness of tasks delayed 100 ms (submitted ~1 ms apart)')
  for (const impl of sqPeers) {
    const r = sq('delayed', impl, impl === 'liteque' ? 500 : 2000)
    console.log(`  ${impl.padEnd(9)} p50 ${String(r.p50ms).padStart(4)} ms   p99 ${String(r.p99ms).padStart(4)} ms   (${r.count} tasks)`)
  }
  const deep = Math.min(1_000_000, N)
  console.log(`\nSQLite: claim and run 50,000 tasks from the head of a ${fmt(deep)}-task backlog (inserts not timed)`)
  console.log(`  taskloom  ${fmt(sq('backlog', 'taskloom', deep).perSec).padStart(9)} tasks/s`)
  const pending = Math.min(1_000_000, N)
  console.log(`\nSQLite: RSS with ${fmt(pending)} tasks pending (submitted in batches of 50,000; no worker)`)
  for (const impl of ['taskloom', 'plainjob']) {
    const r = sq('rss', impl, pending)
    console.log(`  ${impl.padEnd(9)} ${fmt(r.settledMb).padStart(5)} MB after the submits   (peak ${fmt(r.peakMb)} MB)`)
  }

}

if (wanted('redis')) {
  // ---- Redis: one private redis-server per measurement ---------------------------------
  const redisScript = fileURLToPath(new URL('./redis-peers.mjs', import.meta.url))
  const rd = (kind, impl, n) => run(redisScript, [kind, impl, String(n)])
  const rdPeers = ['taskloom', 'bullmq', 'bee-queue']
  // Slower peers get fewer tasks; every figure is per second.
  const RD = { taskloom: 40_000, bullmq: 10_000, 'bee-queue': 20_000 }
  const rdN = (impl) => Math.max(200, Math.round(RD[impl] * Math.min(1, N / 1_000_000)))
  const vs = (x, peers) => peers.map(([name, v]) => `${(x / v).toFixed(1)}× ${name}`).join(', ')
  for (const [kind, title] of [
    ['enqueue', 'bulk submit (no worker)'],
    ['e2e1', 'end to end, 1 worker process at concurrency 50: bulk submit, then every task done'],
    ['e2e4', 'end to end, 4 worker processes at concurrency 50 each'],
    ['retry', 'end to end, 1 worker process, every task failing once, then succeeding on its retry'],
  ]) {
    console.log(`\nRedis: ${title} (median of ${RUNS})`)
    const samples = Object.fromEntries(rdPeers.map((c) => [c, []]))
    for (let round = 0; round < RUNS; round++) {
      for (const impl of rdPeers) samples[impl].push(rd(kind, impl, rdN(impl)).perSec)
    }
    const med = Object.fromEntries(rdPeers.map((c) => [c, median(samples[c])]))
    for (const impl of rdPeers) {
      const ratio = impl === 'taskloom' ? `   ${vs(med.taskloom, [['BullMQ', med.bullmq], ['bee-queue', med['bee-queue']]])}` : ''
      console.log(`  ${impl.padEnd(9)} ${fmt(med[impl]).padStart(9)} tasks/s (${fmt(rdN(impl))} tasks)${ratio}`)
    }
  }
  // Where a Redis queue's time goes: the server's one thread runs every command.
  console.log('\nRedis: server commands per task, end to end with 1 worker (INFO commandstats; commands inside scripts count) and redis-server CPU per task')
  for (const impl of rdPeers) {
    const r = rd('commands', impl, Math.max(200, Math.round(10_000 * Math.min(1, N / 1_000_000))))
    console.log(`  ${impl.padEnd(9)} ${r.perTask.toFixed(1).padStart(5)} commands/task   server CPU ${r.cpuUsPerTask.toFixed(1).padStart(6)} µs/task   most called: ${r.top}`)
  }
  console.log('\nRedis: serial submit → result latency (worker in the same process)')
  for (const impl of rdPeers) {
    const r = rd('latency', impl, 1000)
    console.log(`  ${impl.padEnd(9)} p50 ${r.p50us.toFixed(0).padStart(6)} µs   p99 ${r.p99us.toFixed(0).padStart(6)} µs`)
  }
  console.log('\nRedis: lateness of tasks delayed 100 ms (submitted ~1 ms apart)')
  for (const impl of rdPeers) {
    const r = rd('delayed', impl, 1000)
    console.log(`  ${impl.padEnd(9)} p50 ${String(r.p50ms).padStart(4)} ms   p99 ${String(r.p99ms).padStart(4)} ms   (${r.count} tasks)`)
  }
  // Workflows: taskloom's chord against a BullMQ flow (a parent job over its children).
  // bee-queue has no workflows.
  const CH = { taskloom: 2_000, bullmq: 1_000 }
  const chN = (impl) => Math.max(50, Math.round(CH[impl] * Math.min(1, N / 1_000_000)))
  console.log(`\nRedis: chords of 10 tasks and a callback summing their results, 1 worker process (median of ${RUNS})`)
  const chSamples = { taskloom: [], bullmq: [] }
  for (let round = 0; round < RUNS; round++) {
    for (const impl of ['taskloom', 'bullmq']) chSamples[impl].push(rd('chords', impl, chN(impl)).perSec)
  }
  const chMed = { taskloom: median(chSamples.taskloom), bullmq: median(chSamples.bullmq) }
  for (const impl of ['taskloom', 'bullmq']) {
    const ratio = impl === 'taskloom' ? `   ${(chMed.taskloom / chMed.bullmq).toFixed(1)}× BullMQ flows` : ''
    console.log(`  ${impl.padEnd(9)} ${fmt(chMed[impl]).padStart(9)} chords/s (${fmt(chN(impl))} chords)${ratio}`)
  }

}

// ---- Durable stores: awaiting every result against onIdle() --------------------------
const durableScript = fileURLToPath(new URL('./durable-awaited.mjs', import.meta.url))
for (const store of ['sqlite', 'redis']) {
  if (!wanted(store)) continue
  const n = Math.max(1000, Math.round(20_000 * Math.min(1, N / 1_000_000)))
  const samples = { idle: [], awaited: [] }
  for (let round = 0; round < RUNS; round++) {
    for (const kind of Object.keys(samples)) samples[kind].push(run(durableScript, [store, kind, String(n)]).perSec)
  }
  const idle = median(samples.idle)
  const awaited = median(samples.awaited)
  console.log(`\n${store === 'sqlite' ? 'SQLite' : 'Redis'}: ${fmt(n)} tasks at concurrency 50, every result awaited against onIdle() (median of ${RUNS})`)
  console.log(`  onIdle()          ${fmt(idle).padStart(10)} tasks/s`)
  console.log(`  results awaited   ${fmt(awaited).padStart(10)} tasks/s   ${((awaited / idle) * 100).toFixed(0)}% of onIdle()`)
}

// ---- The HTTP API: $execute under load --------------------------------------------------
// chapkit (the seed's service, recorded on this machine: ../shared/chapkit-contract.md)
// served 560–620 requests/s here and lost 59% of its jobs under this load; it cannot be
// installed from a registry, so its figure is quoted, not measured in this run.
const httpScript = fileURLToPath(new URL('./http-execute.mjs', import.meta.url))
if (wanted('http')) {
  for (const store of ['memory', 'sqlite']) {
    const r = run(httpScript, [store])
    console.log(`\nHTTP on ${store}: POST $execute of a trivial task, 8 connections, ${process.env.BENCH_HTTP_SECONDS ?? 10} s (autocannon)`)
    console.log(`  ${fmt(r.perSec).padStart(8)} requests/s (${(r.perSec / 600).toFixed(1)}× chapkit's 600; target 6,000)   p50 ${r.p50ms} ms   p99 ${r.p99ms} ms`)
    // Up to one request per connection is answered after autocannon's deadline: stored, not counted by it.
    const allSucceeded = r.unfinished === 0 && r.succeeded >= r.accepted && r.succeeded <= r.accepted + 8
    console.log(`  accepted ${fmt(r.accepted)} (+ up to 8 answered after the deadline), ended SUCCESS ${fmt(r.succeeded)}, other states ${r.unfinished}, refused ${r.non2xx}, errors ${r.errors}` +
      (allSucceeded ? '   every accepted job succeeded' : '   SOME ACCEPTED JOBS DID NOT SUCCEED'))
    console.log(`  $execute → completed job (200 in a row, $stream): p50 ${r.serialP50ms.toFixed(2)} ms   p99 ${r.serialP99ms.toFixed(2)} ms`)
  }
}

// ---- The dashboard on a big store ----------------------------------------------------------
// Pages loaded in headless Chromium with BENCH_UI_N (default 1,000,000) tasks in a SQLite
// store: the time from navigation until the page shows its rows. Target: under a second.
const uiScript = fileURLToPath(new URL('./ui-list.mjs', import.meta.url))
if (wanted('ui')) {
  const r = run(uiScript, ['sqlite'])
  console.log(`\nDashboard on SQLite with ${fmt(r.tasks)} tasks (${fmt(r.counts.FAILURE)} failed; filled in ${r.fillSeconds} s): page load until rows show, median of 5`)
  for (const [what, ms] of [
    ['tasks, newest first', r.listNewestMs],
    ['tasks, FAILURE only', r.listFailedMs],
    ['tasks, oldest first, page 2', r.listOldestPage2Ms],
    ['overview (counts of every queue)', r.overviewMs],
  ]) {
    console.log(`  ${what.padEnd(34)} ${fmt(ms).padStart(6)} ms${ms < 1000 ? '' : '   OVER THE 1 s TARGET'}`)
  }
}

// `npm run bench`: taskloom against its peers, in one run on this machine, printing
// ratios (absolute numbers here are noisy; ratios from the same run are not).
// Each measurement runs in a fresh child process. Throughput runs are interleaved — one
// round runs every contender once — so that drift of this machine's speed hits all of
// them alike; BENCH_RUNS (default 5) sets the rounds, and the median is reported.
// BENCH_N scales the task counts down for a quick look.
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (x) => Math.round(x).toLocaleString('en-US')

console.log(`taskloom benchmarks — ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0].model}, ` +
  `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${RUNS} run(s) each\n`)

console.log(`In memory: ${fmt(N)} no-op async tasks submitted in bulk, drained at concurrency 256 (median of ${RUNS})`)
const contenders = ['ceiling', 'taskloom', 'p-queue', 'taskloom-policies']
const samples = Object.fromEntries(contenders.map((c) => [c, []]))
for (let round = 0; round < RUNS; round++) {
  for (const impl of contenders) samples[impl].push(measure('throughput', impl, N).perSec)
}
const tp = Object.fromEntries(contenders.map((c) => [c, median(samples[c])]))
console.log(`  plain JS await loop (ceiling) ${fmt(tp.ceiling).padStart(12)} tasks/s`)
console.log(`  taskloom                      ${fmt(tp.taskloom).padStart(12)} tasks/s   ${(tp.taskloom / tp['p-queue']).toFixed(2)}× p-queue`)
console.log(`  p-queue                       ${fmt(tp['p-queue']).padStart(12)} tasks/s`)

console.log(`\nPeak RSS with ${fmt(N)} tasks queued (none run)`)
const rss = { taskloom: measure('rss', 'taskloom', N).peakMb, 'p-queue': measure('rss', 'p-queue', N).peakMb }
console.log(`  taskloom ${fmt(rss.taskloom).padStart(8)} MB   ${((rss.taskloom / rss['p-queue']) * 100).toFixed(0)}% of p-queue`)
console.log(`  p-queue  ${fmt(rss['p-queue']).padStart(8)} MB`)

console.log('\nSerial submit → result latency, 1,000 round trips')
const lat = { taskloom: measure('latency', 'taskloom', 1000), 'p-queue': measure('latency', 'p-queue', 1000) }
for (const impl of ['taskloom', 'p-queue']) {
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

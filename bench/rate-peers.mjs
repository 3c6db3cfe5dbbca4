// One rate-limiting accuracy measurement in this process; prints one JSON line.
//   node bench/rate-peers.mjs <taskloom|bottleneck|p-queue> <rate per second>
// A backlog far larger than the rate is offered; start times are recorded for
// SECONDS seconds and counted per whole second after the first.
import { Executor } from '../index.mjs'
import Bottleneck from 'bottleneck'
import PQueue from 'p-queue'

const [impl, rateArg] = process.argv.slice(2)
const RATE = Number(rateArg)
const SECONDS = 4
const BACKLOG = RATE * (SECONDS + 2)
const starts = []
const record = () => {
  starts.push(performance.now())
}

let stop
if (impl === 'taskloom') {
  const ex = new Executor({ concurrency: 4096 })
  ex.register('tick', record, { rateLimit: { limit: RATE, intervalMs: 1000 } })
  await ex.submitMany('tick', new Array(BACKLOG).fill(null))
  stop = () => ex.close({ timeoutMs: 0 })
} else if (impl === 'bottleneck') {
  // Bottleneck's documented way to express N per second.
  const limiter = new Bottleneck({ minTime: 1000 / RATE })
  for (let i = 0; i < BACKLOG; i++) limiter.schedule(async () => record()).catch(() => {}) // dropped at stop
  stop = () => limiter.stop({ dropWaitingJobs: true }).catch(() => {})
} else if (impl === 'p-queue') {
  const q = new PQueue({ intervalCap: RATE, interval: 1000 })
  for (let i = 0; i < BACKLOG; i++) q.add(record)
  stop = () => q.clear()
} else {
  throw new Error(`unknown impl ${impl}`)
}

await new Promise((r) => setTimeout(r, SECONDS * 1000 + 200))
await stop()
const t0 = starts[0]
const perSecond = Array.from({ length: SECONDS }, (_, s) => starts.filter((t) => t - t0 >= s * 1000 && t - t0 < (s + 1) * 1000).length)
const after = perSecond.slice(1)
const worstErrorPct = Math.max(...after.map((n) => (Math.abs(n - RATE) / RATE) * 100))
process.stdout.write(JSON.stringify({ impl, rate: RATE, perSecond, worstErrorPct }) + '\n')
process.exit(0)

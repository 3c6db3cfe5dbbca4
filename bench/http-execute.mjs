// The HTTP API under load: `POST /api/v1/tasks/add/$execute` with 8 connections for
// BENCH_HTTP_SECONDS (default 10) by autocannon, against a server in another process;
// then every accepted job must have ended SUCCESS. Then 200 sequential jobs, each
// `$execute` followed by its `$stream` until completed. Prints one JSON line.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const [kind] = process.argv.slice(2)
const seconds = Number(process.env.BENCH_HTTP_SECONDS ?? 10)
const serverScript = fileURLToPath(new URL('./http-server.mjs', import.meta.url))
const child = spawn(process.execPath, [serverScript, kind], { stdio: ['ignore', 'pipe', 'inherit'] })
const lines = []
let wake
child.stdout.on('data', (d) => {
  lines.push(...d.toString().split('\n').filter(Boolean))
  wake?.()
})
const nextLine = async (i) => {
  while (lines.length <= i) await new Promise((resolve) => (wake = resolve))
  return JSON.parse(lines[i])
}
const { url } = await nextLine(0)

const body = JSON.stringify({ params: { a: 1, b: 2 } })
const load = await autocannon({
  url: `${url}/api/v1/tasks/add/$execute`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body,
  connections: 8,
  duration: seconds,
})
const accepted = load['2xx']

// Serial: from $execute to the completed job, over HTTP.
const times = []
for (let i = 0; i < 200; i++) {
  const t0 = performance.now()
  const r = await fetch(`${url}/api/v1/tasks/add/$execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const { job_id: id } = await r.json()
  const events = await (await fetch(`${url}/api/v1/jobs/${id}/$stream`)).text()
  if (!events.includes('"status":"completed"')) throw new Error(`job ${id} did not complete: ${events}`)
  times.push(performance.now() - t0)
}
times.sort((a, b) => a - b)

child.kill('SIGTERM')
const counts = await nextLine(1)
// autocannon stops counting at the deadline, while up to one request per connection is
// still answered: those tasks exist too.
const succeeded = counts.SUCCESS - 200
const unfinished = Object.entries(counts).filter(([s]) => s !== 'SUCCESS').reduce((n, [, c]) => n + c, 0)
console.log(JSON.stringify({
  perSec: load.requests.average,
  accepted,
  non2xx: load.non2xx,
  errors: load.errors + load.timeouts,
  succeeded,
  failed: counts.FAILURE,
  unfinished,
  p50ms: load.latency.p50,
  p99ms: load.latency.p99,
  serialP50ms: times[100],
  serialP99ms: times[198],
}))

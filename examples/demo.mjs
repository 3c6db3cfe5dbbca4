// taskloom demo: `npm run demo`. Registers a few handlers and shows queues, priorities,
// delays, retries, timeouts, progress, cancellation, policies and bulk submits on the
// embedded durable store: a SQLite file (TASKLOOM_STORE picks another store).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor, NonRetryableError, TaskCancelledError, TaskFailedError, sig, chain, group, chord } from 'taskloom'

const file = path.join(os.tmpdir(), 'taskloom-demo.db')
for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true })
const store = process.env.TASKLOOM_STORE ?? `sqlite:${file}`
console.log(`store: ${store}`)

// keepResults: the demo reads its first tasks back after 100,000 more (the default keeps 100,000).
const ex = new Executor({ store, concurrency: 64, retry: { maxRetries: 2, backoff: 'exponential', delayMs: 50 }, keepResults: { count: 200_000 } })

ex.register('add', ([x, y]) => x + y, { queue: 'math', tags: ['math'], description: 'Add two numbers' })
ex.register('multiply', ([x, y]) => x * y, { queue: 'math', tags: ['math'] })

let calls = 0
ex.register('flaky', () => {
  calls++
  if (calls < 3) throw new Error(`upstream hiccup #${calls}`)
  return 'third time lucky'
})

ex.register('validate', (input) => {
  if (typeof input !== 'number') throw new NonRetryableError(`expected a number, got ${typeof input}`)
  return input
})

ex.register('report', async (items, ctx) => {
  for (let i = 1; i <= items; i++) {
    if (ctx.shouldStop) return 'stopped early'
    ctx.progress((i / items) * 100, `item ${i}/${items}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  ctx.log(`processed ${items} items`)
  return `processed ${items} items`
}, { timeoutMs: 5_000 })

ex.register('forever', (_, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))))

ex.on('progress', ({ name, percent, message }) => {
  if (percent % 50 === 0) console.log(`  progress ${name}: ${percent}% (${message})`)
})

console.log('registered tasks tagged math:', ex.tasks({ tags: ['math'] }).map((t) => t.name).join(', '))

const sum = await ex.submit('add', [1, 2])
console.log('add(1, 2) =', await sum.result())

const products = await ex.submitMany('multiply', [[2, 3], [4, 5], [6, 7]])
console.log('multiply batch =', await Promise.all(products.map((t) => t.result())))

const urgent = await ex.submit('add', [100, 1], { priority: 10, delayMs: 100 })
console.log('delayed add resolves after 100 ms:', await urgent.result(), `(${(await urgent.info()).state})`)

const flaky = await ex.submit('flaky')
console.log('flaky =', await flaky.result(), `after ${(await flaky.info()).retries} retries`)

try {
  await (await ex.submit('validate', 'abc')).result()
} catch (err) {
  if (err instanceof TaskFailedError) console.log(`validate failed without retrying: ${err.errorType}: ${err.errorMessage}`)
}

const report = await ex.submit('report', 4)
console.log('report =', await report.result(), '| logs:', (await report.info()).logs.map((l) => l.message))

const stuck = await ex.submit('forever')
setTimeout(() => stuck.cancel(), 50)
try {
  await stuck.result()
} catch (err) {
  if (err instanceof TaskCancelledError) console.log(`forever was cancelled: state ${await stuck.state()}`)
}

console.log('direct run (no queue):', await ex.run('add', [20, 22]))

// Rate limit: 20 starts per second, one every 50 ms.
ex.register('ping', () => Date.now(), { rateLimit: { limit: 20, intervalMs: 1000, burst: 1 } })
const pings = await Promise.all((await ex.submitMany('ping', [1, 2, 3, 4, 5])).map((t) => t.result()))
console.log('rate-limited pings, ms apart:', pings.slice(1).map((t, i) => t - pings[i]).join(', '))

// Circuit breaker: two failures in a row open it; after 100 ms one trial closes it again.
// (maxParallel: 1 sends the calls one at a time, so the third waits behind the open breaker.)
let apiUp = false
ex.register('api', () => {
  if (!apiUp) throw new Error('503 Service Unavailable')
  return 'ok'
}, { maxParallel: 1, retry: { maxRetries: 0 }, circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 100 } })
ex.on('breaker', ({ name, from, to }) => console.log(`  breaker ${name}: ${from} -> ${to}`))
const apiCalls = await ex.submitMany('api', [1, 2, 3])
await Promise.allSettled(apiCalls.slice(0, 2).map((t) => t.result()))
console.log('third call while open:', (await apiCalls[2].info()).status)
apiUp = true
console.log('third call after the reset:', await apiCalls[2].result())

// Workflows: each member is a task of its own; results pass on to the next member.
ex.register('sum', ([numbers]) => numbers.reduce((a, b) => a + b, 0), { queue: 'math' })
console.log('chain (1 + 2) × 3 =', await (await ex.submit(chain(sig('add', [1, 2]), sig('multiply', [3])))).result())
console.log('group =', await (await ex.submit(group(sig('add', [1, 2]), sig('add', [3, 4]), sig('add', [5, 6])))).result())
const total = await ex.submit(chord([sig('add', [1, 2]), sig('add', [3, 4]), sig('add', [5, 6])], sig('sum')))
console.log('chord sum =', await total.result(), '| members:', (await total.members()).map((m) => `${m.path} ${m.state}`).join(', '))

// A cron schedule (6 fields: every second), stored with the tasks; two ticks, then removed.
let ticks = 0
const ticked = new Promise((resolve) => {
  ex.register('heartbeat', () => {
    if (++ticks === 2) resolve()
  })
})
const beat = await ex.schedule('heartbeat', '* * * * * *', null)
await ticked
await ex.removeSchedule(beat.id)
console.log(`schedule '${beat.id}' ticked ${ticks} times, then was removed`)

const t0 = performance.now()
const many = await ex.submitMany('add', Array.from({ length: 100_000 }, (_, i) => [i, i]))
await ex.onIdle()
console.log(`100,000 tasks submitted and run in ${(performance.now() - t0).toFixed(0)} ms; last = ${await many.at(-1).result()}`)

await ex.close()
console.log('closed cleanly')

// Everything is in the file: a second executor (here a producer only) reads it back.
const reader = new Executor({ store, worker: false, keepResults: { count: 200_000 } })
const counts = await reader.counts()
console.log('tasks in the store by state:', Object.entries(counts.total).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(', '))
console.log('add(1, 2), read back by id from another executor:', await reader.task(sum.id).result())
const page = await reader.list({ name: 'report' })
console.log('list({ name: "report" }):', page.tasks.map((t) => `${t.state} ${t.result}`).join('; '))
await reader.close()

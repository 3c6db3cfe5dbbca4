// The dashboard on a big store: fills a SQLite (or Redis) store with BENCH_UI_N tasks
// (default 1,000,000; every 100th fails), then loads dashboard pages in headless Chromium
// and reports the time from navigation until the page shows its rows (median of 5).
// argv: <sqlite|redis> [redis url]. Prints a JSON line.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { Executor } from '../index.mjs'
import { serve } from '../http.mjs'

const [kind = 'sqlite', redisUrl] = process.argv.slice(2)
const N = Number(process.env.BENCH_UI_N ?? 1_000_000)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-bench-ui-'))
const store = kind === 'sqlite' ? `sqlite:${path.join(dir, 'tasks.db')}` : redisUrl
const ex = new Executor({ store, concurrency: 256, keepResults: { count: N }, ...(kind === 'redis' ? { namespace: `bench-ui-${process.pid}` } : {}) })
let n = 0
ex.register('work', () => {
  n += 1
  if (n % 100 === 0) throw new Error('one in a hundred fails')
  return n
})
const fillStart = performance.now()
for (let i = 0; i < N; i += 10_000) {
  await ex.submitMany('work', Array.from({ length: Math.min(10_000, N - i) }, (_, j) => ({ i: i + j })))
}
await ex.onIdle()
const fillSeconds = (performance.now() - fillStart) / 1000

const server = await serve(ex, { port: 0 })
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
const page = await browser.newPage()
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** ms from navigation until `selector` is visible, median of 5 (a blank page between). */
async function timeLoad(hash, selector) {
  const times = []
  for (let i = 0; i < 5; i++) {
    await page.goto('about:blank')
    const t0 = performance.now()
    await page.goto(`${server.url}/ui/${hash}`)
    await page.locator(selector).first().waitFor({ timeout: 30_000 })
    times.push(performance.now() - t0)
  }
  return Math.round(median(times))
}

const out = {
  store: kind,
  tasks: N,
  fillSeconds: Number(fillSeconds.toFixed(1)),
  counts: (await ex.counts()).total,
  listNewestMs: await timeLoad('#/tasks', 'table.task-list tbody tr'),
  listFailedMs: await timeLoad('#/tasks?state=FAILURE', 'table.task-list tbody tr'),
  listOldestPage2Ms: 0,
  overviewMs: await timeLoad('#/', 'tr[data-queue="default"]'),
}
// A page further on: through the cursor, as "Next" does.
const first = await fetch(`${server.url}/api/v1/jobs?limit=50&order=oldest`)
out.listOldestPage2Ms = await timeLoad(`#/tasks?order=oldest&cursor=${first.headers.get('x-next-cursor')}&trail=-`, 'table.task-list tbody tr')
await browser.close()
await server.close()
await ex.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify(out))

// The dashboard (/ui) in a real browser: headless Debian Chromium driven by
// playwright-core, against a server on whichever store the run uses. It watches progress
// and logs arrive live, cancels and retries from the page and checks the store, opens a
// chord's graph, runs a task from its schema's form, shows hostile payloads as text,
// loads nothing from elsewhere and costs nothing while idle. Screenshots of each view
// are kept in target/dashboard-screenshots/.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { Executor, sig, chord, chain } from '../index.mjs'
import { serve } from '../http.mjs'
import { assetSizes } from '../lib/http/ui-assets.js'
import { until, startReady } from './support/processes.mjs'
import { placesForThisFile, storeOptions } from './support/places.mjs'
import { suiteStore } from './support/suite-store.mjs'

const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'target', 'dashboard-screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const HOSTILE = '<img src=x onerror=alert(1)>'

let browser
before(async () => {
  // No skip when it is missing: .ci/run installs Debian's chromium.
  assert.ok(fs.existsSync(CHROMIUM), `the dashboard tests need Chromium at ${CHROMIUM} (Debian package chromium)`)
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] })
  fs.mkdirSync(SHOTS, { recursive: true })
})
after(async () => {
  await browser?.close()
})

/** A gate a handler waits on until the test opens it. */
function gate() {
  let open
  const promise = new Promise((resolve) => (open = resolve))
  return { promise, open }
}

/** An executor with the tests' tasks, served; a page with every request and dialog recorded. */
async function withDashboard(fn, { serveOptions = {} } = {}) {
  const ex = new Executor({ concurrency: 8 })
  const gates = { first: gate(), second: gate() }
  let flaky = 0
  ex.register('progressing', async (_p, ctx) => {
    ctx.progress(30, 'a third')
    ctx.log(`first line ${HOSTILE}`)
    await gates.first.promise
    ctx.progress(70, 'most of it')
    ctx.log('second line', 'warning')
    await gates.second.promise
    return 'done'
  })
  ex.register('waits_for_cancel', (_p, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('stopped'))))
  ex.register('flaky', () => {
    flaky += 1
    if (flaky === 1) throw new RangeError(`first run fails ${HOSTILE}`)
    return { runs: flaky }
  })
  ex.register('add', ([a, b]) => a + b)
  ex.register('sum', ([xs]) => xs.reduce((a, b) => a + b, 0))
  ex.register('area', ({ width, height, unit }) => `${width * height} ${unit}`, {
    description: 'The area of a rectangle.',
    params: {
      type: 'object',
      properties: { width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, unit: { type: 'string', enum: ['m2', 'cm2'], default: 'm2' } },
      required: ['width', 'height'],
      additionalProperties: false,
    },
  })
  ex.register('echo', (p) => p, { queue: 'echoes' })
  const server = await serve(ex, { port: 0, ...serveOptions })
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const requests = []
  const dialogs = []
  const errors = []
  page.on('request', (r) => requests.push(r.url()))
  page.on('dialog', (d) => {
    dialogs.push(d.message())
    d.dismiss()
  })
  page.on('pageerror', (e) => errors.push(e.message))
  try {
    await fn({ ex, url: server.url, page, requests, dialogs, errors, gates })
    assert.deepEqual(errors, [], 'no script error on the page')
  } finally {
    gates.first.open()
    gates.second.open()
    await context.close()
    await server.close()
    await ex.close({ timeoutMs: 2000 }).catch(() => {})
  }
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${suiteStore}-${name}.png`), fullPage: true })

test('overview: queues with their counts, charts and pause; workers on a durable store; nothing loaded from elsewhere', async () => {
  await withDashboard(async ({ ex, url, page, requests }) => {
    await Promise.all([1, 2, 3].map((n) => ex.submit('echo', { n }).then((h) => h.result())))
    await page.goto(`${url}/ui/`)
    const row = page.locator('tr[data-queue="echoes"]')
    await row.waitFor()
    assert.equal(await row.locator('td[data-count="SUCCESS"]').innerText(), '3')
    assert.equal(await row.locator('td.chart svg').count(), 2, 'a throughput and a failure chart')
    await page.locator('#live.on').waitFor()
    if (suiteStore !== 'memory') {
      await page.locator('table.workers td', { hasText: ex.workerId }).waitFor()
    }
    await shot(page, 'overview')

    await row.getByRole('button', { name: 'Pause' }).click()
    await until(async () => (await ex.queues()).find((q) => q.name === 'echoes').paused, 5000, 'the queue paused from the page')
    await page.locator('tr[data-queue="echoes"] .badge.paused').waitFor()
    await page.locator('tr[data-queue="echoes"]').getByRole('button', { name: 'Resume' }).click()
    await until(async () => !(await ex.queues()).find((q) => q.name === 'echoes').paused, 5000, 'the queue resumed from the page')

    // Live throughput: completions while the page is open show in the chart's rate.
    await Promise.all(Array.from({ length: 50 }, (_, n) => ex.submit('echo', { n }).then((h) => h.result())))
    await until(async () => Number(await page.locator('tr[data-queue="echoes"] td[data-chart="completed"] .rate').innerText()) > 0, 5000, 'the chart counts the completions')

    const foreign = requests.filter((r) => !r.startsWith(url))
    assert.deepEqual(foreign, [], 'every request goes to the taskloom server')
  })
})

test('a task page shows progress, status and log lines as they happen, without a reload', async () => {
  await withDashboard(async ({ ex, url, page, gates }) => {
    const h = await ex.submit('progressing')
    await until(async () => (await h.info()).progress === 30, 5000, 'the task reported progress')
    await page.goto(`${url}/ui/#/task/${h.id}`)
    await page.locator('.logs li').first().waitFor()
    assert.equal(await page.locator('progress[aria-label="progress"]').evaluate((p) => p.value), 30)
    await page.evaluate(() => (window.__sameDocument = true))

    gates.first.open()
    await page.waitForFunction(() => document.querySelector('progress[aria-label="progress"]')?.value === 70)
    await page.locator('.logs li', { hasText: 'second line' }).waitFor()
    assert.match(await page.locator('.progress-text').innerText(), /70% — most of it/)
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'updated in place, not reloaded')
    await shot(page, 'task-running')

    gates.second.open()
    await page.locator('h1 .state[data-state="SUCCESS"]').waitFor()
    assert.match(await page.locator('.timeline').innerText(), /submitted[\s\S]*started[\s\S]*succeeded/)
  })
})

test('cancel a running task and retry a failed one from the page; the store changes', async () => {
  await withDashboard(async ({ ex, url, page }) => {
    const running = await ex.submit('waits_for_cancel')
    await until(async () => (await running.state()) === 'STARTED', 5000, 'started')
    await page.goto(`${url}/ui/#/task/${running.id}`)
    await page.getByRole('button', { name: 'Cancel' }).click()
    // Destructive: it asks first. Keeping it changes nothing.
    await page.locator('#confirm[open]').waitFor()
    await page.locator('#confirm-no').click()
    assert.equal(await running.state(), 'STARTED')
    await page.getByRole('button', { name: 'Cancel' }).click()
    await page.locator('#confirm-ok').click()
    await until(async () => (await running.state()) === 'REVOKED', 5000, 'cancelled in the store')
    await page.locator('h1 .state[data-state="REVOKED"]').waitFor()

    const failed = await ex.submit('flaky')
    await assert.rejects(failed.result(), /first run fails/)
    await page.goto(`${url}/ui/#/task/${failed.id}`)
    await page.locator('pre.stack').waitFor()
    assert.match(await page.locator('p.error').innerText(), /RangeError: first run fails/)
    await shot(page, 'task-failed')
    await page.getByRole('button', { name: 'Retry' }).click()
    await until(async () => (await failed.state()) === 'SUCCESS', 5000, 'retried in the store')
    assert.deepEqual((await failed.info()).result, { runs: 2 })
    await page.locator('h1 .state[data-state="SUCCESS"]').waitFor()

    await page.getByRole('button', { name: 'Remove' }).click()
    await page.locator('#confirm-ok').click()
    await page.waitForURL(/#\/tasks$/)
    await assert.rejects(failed.info(), { code: 'ERR_TASK_NOT_FOUND' })
  })
})

test("a chord's page draws its members as a graph with their states", async () => {
  await withDashboard(async ({ ex, url, page }) => {
    const wf = await ex.submit(chord([sig('add', [1, 2]), sig('add', [3, 4]), chain(sig('add', [5, 6]), sig('add', [7]))], sig('sum')))
    assert.equal(await wf.result(), 3 + 7 + 18)
    await page.goto(`${url}/ui/#/task/${wf.id}`)
    await page.locator('.graph .g-chord').waitFor()
    const nodes = page.locator('.graph .g-node')
    assert.equal(await nodes.count(), 5, 'three header members (one a chain of two) and the callback')
    assert.equal(await page.locator('.graph .g-node[data-state="SUCCESS"]').count(), 5)
    assert.equal(await page.locator('.graph .g-header > .g-node').count(), 2)
    assert.equal(await page.locator('.graph .g-header > .g-chain .g-node').count(), 2)
    assert.equal(await page.locator('.graph .g-callback .g-name').innerText(), 'sum')
    await shot(page, 'workflow')
    // A member links to its own task.
    await page.locator('.graph .g-callback a').click()
    await page.locator('h1', { hasText: 'sum' }).waitFor()
    assert.equal(await page.locator('pre.json').last().innerText(), '28')
  })
})

test('a payload, log line or error holding HTML shows as text', async () => {
  await withDashboard(async ({ ex, url, page, dialogs }) => {
    const h = await ex.submit('echo', { html: HOSTILE }, { key: HOSTILE })
    await h.result()
    const p = await ex.submit('progressing')
    await until(async () => (await p.info()).logs.length === 1, 5000, 'logged')
    for (const id of [h.id, p.id]) {
      await page.goto(`${url}/ui/#/task/${id}`)
      await page.locator('pre.json').first().waitFor()
    }
    await page.goto(`${url}/ui/#/task/${h.id}`)
    await page.locator('pre.json').first().waitFor()
    assert.match(await page.locator('pre.json').first().innerText(), /<img src=x onerror=alert\(1\)>/)
    assert.equal(await page.locator('.facts dd', { hasText: HOSTILE }).count(), 1, 'the key shows as text')
    await page.goto(`${url}/ui/#/task/${p.id}`)
    await page.locator('.logs li').first().waitFor()
    assert.match(await page.locator('.logs li').first().innerText(), /first line <img src=x onerror=alert\(1\)>/)
    assert.equal(await page.locator('main img').count(), 0, 'no element was made from the text')
    // The search box finds a task by its key, markup and all.
    await page.locator('#search input').fill(HOSTILE)
    await page.locator('#search input').press('Enter')
    await page.waitForURL(new RegExp(`#/task/${h.id}$`))
    assert.deepEqual(dialogs, [], 'no script ran')
  })
})

test('task lists by state and queue, paged with the cursor, rows following their tasks live', async () => {
  await withDashboard(async ({ ex, url, page }) => {
    const handles = await ex.submitMany('echo', Array.from({ length: 120 }, (_, n) => ({ n })))
    await Promise.all(handles.map((h) => h.result()))
    await page.goto(`${url}/ui/#/tasks?queue=echoes&state=SUCCESS`)
    await page.locator('table.task-list tbody tr').first().waitFor()
    assert.equal(await page.locator('table.task-list tbody tr').first().getAttribute('data-id'), handles[119].id, 'newest first')
    await page.locator('select[name="order"]').selectOption('oldest')
    await page.locator(`table.task-list tbody tr[data-id="${handles[0].id}"]`).waitFor()
    assert.equal(await page.locator('table.task-list tbody tr').count(), 50)
    assert.equal(await page.locator('table.task-list tbody tr').first().getAttribute('data-id'), handles[0].id, 'oldest first')
    await shot(page, 'tasks')
    await page.getByRole('button', { name: 'Next →' }).click()
    await page.locator(`tr[data-id="${handles[50].id}"]`).waitFor()
    await page.getByRole('button', { name: 'Next →' }).click()
    await page.locator(`tr[data-id="${handles[100].id}"]`).waitFor()
    assert.equal(await page.locator('table.task-list tbody tr').count(), 20)
    assert.equal(await page.getByRole('button', { name: 'Next →' }).isDisabled(), true, 'the last page')
    await page.getByRole('button', { name: '← Previous' }).click()
    await page.locator(`tr[data-id="${handles[50].id}"]`).waitFor()
    await page.getByRole('button', { name: '← Previous' }).click()
    await page.locator(`tr[data-id="${handles[0].id}"]`).waitFor()

    // A row of a running task changes state in place.
    await page.goto(`${url}/ui/#/tasks?state=STARTED`)
    const running = await ex.submit('waits_for_cancel')
    await until(async () => (await running.state()) === 'STARTED', 5000, 'started')
    await page.goto(`${url}/ui/#/tasks?name=waits_for_cancel`)
    await page.locator(`tr[data-id="${running.id}"] .state[data-state="STARTED"]`).waitFor()
    await running.cancel()
    await page.locator(`tr[data-id="${running.id}"] .state[data-state="REVOKED"]`).waitFor()
  })
})

test("run a task from the form its schema generates; bad params show the validator's issue", async () => {
  await withDashboard(async ({ ex, url, page }) => {
    await page.goto(`${url}/ui/#/run`)
    await page.locator('.registry a', { hasText: 'area' }).click()
    await page.locator('#param-width').waitFor()
    assert.equal(await page.locator('#param-unit').inputValue(), '"m2"', 'the default is chosen')
    await shot(page, 'run')
    await page.locator('#param-width').fill('0')
    await page.locator('#param-height').fill('3')
    await page.getByRole('button', { name: 'Run area' }).click()
    await page.locator('.field[data-param="width"] .issue', { hasText: /minimum|less than/i }).waitFor()
    assert.equal((await ex.counts()).total.PENDING + (await ex.counts()).total.SUCCESS, 0, 'nothing was enqueued')
    await page.locator('#param-width').fill('4')
    await page.locator('#param-unit').selectOption('"cm2"')
    await page.getByRole('button', { name: 'Run area' }).click()
    await page.waitForURL(/#\/task\/[0-9a-f-]{36}$/)
    await page.locator('h1 .state[data-state="SUCCESS"]').waitFor()
    assert.equal(await page.locator('pre.json').last().innerText(), '"12 cm2"')
  })
})

test('schedules: next tick, pause and resume from the page', async () => {
  await withDashboard(async ({ ex, url, page }) => {
    const s = await ex.schedule('echo', '0 3 * * *', { nightly: true }, { tz: 'Europe/Berlin' })
    await page.goto(`${url}/ui/#/schedules`)
    const row = page.locator(`tr[data-schedule="${s.id}"]`)
    await row.waitFor()
    assert.match(await row.innerText(), /Europe\/Berlin/)
    assert.match(await row.innerText(), /in \d+ (h|min)/)
    // Its last runs (by task name), newest first.
    const run = await ex.submit('echo', { nightly: true })
    await run.result()
    await page.reload()
    await page.locator(`tr[data-schedule="${s.id}"] td.runs a[href="#/task/${run.id}"] .state[data-state="SUCCESS"]`).waitFor()
    await shot(page, 'schedules')
    await row.getByRole('button', { name: 'Pause' }).click()
    await until(async () => (await ex.schedules()).find((x) => x.id === s.id).paused, 5000, 'paused from the page')
    await page.locator(`tr[data-schedule="${s.id}"]`).getByRole('button', { name: 'Resume' }).click()
    await until(async () => !(await ex.schedules()).find((x) => x.id === s.id).paused, 5000, 'resumed from the page')
  })
})

test('behind a token: the page asks for it and sends it in a header; the data routes refuse without it', async () => {
  await withDashboard(
    async ({ ex, url, page }) => {
      const files = await fetch(`${url}/ui/`)
      assert.equal(files.status, 200, 'the page itself holds no data')
      assert.match(files.headers.get('content-security-policy'), /script-src 'self'/)
      assert.equal((await fetch(`${url}/ui/api/overview`)).status, 401)
      assert.equal((await fetch(`${url}/ui/api/events`)).status, 401)
      await ex.submit('echo', { n: 1 })
      await page.goto(`${url}/ui/`)
      await page.locator('#token[open]').waitFor()
      await page.locator('#token input').fill('secret-token-123')
      await page.getByRole('button', { name: 'Use token' }).click()
      await page.locator('tr[data-queue="echoes"]').waitFor()
      await page.locator('#live.on').waitFor()
      const cookies = await page.context().cookies()
      assert.deepEqual(cookies, [], 'no cookie holds the token')
    },
    { serveOptions: { token: 'secret-token-123' } },
  )
})

test('an idle page sends no requests; the page is small and works without a network', async () => {
  await withDashboard(async ({ url, page, requests }) => {
    await page.goto(`${url}/ui/`)
    await page.locator('#live.on').waitFor()
    await page.locator('h1').waitFor()
    const settled = requests.length
    await new Promise((resolve) => setTimeout(resolve, 3000))
    assert.deepEqual(requests.slice(settled), [], 'idle: no polling')
    const sizes = assetSizes()
    const gzipped = sizes.reduce((a, s) => a + s.gzipped, 0)
    assert.ok(gzipped <= 150 * 1024, `the page's files are ${gzipped} bytes gzipped`)
    for (const s of sizes) {
      const text = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'http', 'ui', s.name), 'utf8')
      assert.doesNotMatch(text, /(src|href)=["']?(https?:)?\/\//, `${s.name} loads nothing from elsewhere`)
    }
  })
})

// The dashboard of a producer-only process, with the tasks run by a worker process.
if (suiteStore === 'memory') {
  const fixture = fileURLToPath(new URL('./fixtures/dashboard-worker.mjs', import.meta.url))
  const { place } = placesForThisFile('dashboard')
  for (const kind of ['sqlite', 'redis']) {
    test(`${kind}: a producer's dashboard follows a worker process's tasks live, and cancels one there`, async () => {
      const p = place(kind)
      const { child: worker, exited } = await startReady(fixture, [p.store, p.namespace])
      const ex = new Executor({ ...storeOptions(p), worker: false })
      const server = await serve(ex, { port: 0 })
      const context = await browser.newContext()
      const page = await context.newPage()
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-dashboard-'))
      try {
        await page.goto(`${server.url}/ui/`)
        await page.locator('table.workers td', { hasText: String(worker.pid) }).waitFor()
        const h = await ex.submit('watched', { file: path.join(dir, 'go') })
        await page.goto(`${server.url}/ui/#/task/${h.id}`)
        await page.locator('.logs li', { hasText: `from the worker ${worker.pid}` }).waitFor()
        await page.waitForFunction(() => document.querySelector('progress[aria-label="progress"]')?.value === 25)
        await page.evaluate(() => (window.__sameDocument = true))
        fs.writeFileSync(path.join(dir, 'go'), '')
        await page.locator('h1 .state[data-state="SUCCESS"]').waitFor()
        assert.equal(await page.evaluate(() => window.__sameDocument), true, 'live, not reloaded')
        assert.deepEqual(await h.result(), { pid: worker.pid })

        const other = await ex.submit('watched', { file: path.join(dir, 'never') })
        await until(async () => (await other.state()) === 'STARTED', 10_000, 'started in the worker')
        await page.goto(`${server.url}/ui/#/task/${other.id}`)
        await page.getByRole('button', { name: 'Cancel' }).click()
        await page.locator('#confirm-ok').click()
        await until(async () => (await other.state()) === 'REVOKED', 10_000, 'cancelled in the worker')
        await page.locator('h1 .state[data-state="REVOKED"]').waitFor()
      } finally {
        await context.close()
        await server.close()
        await ex.close()
        worker.kill('SIGTERM')
        await exited
      }
    })
  }
}

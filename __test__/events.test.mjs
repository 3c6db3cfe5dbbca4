// Task events: 'state', 'completed', 'failed', 'progress', 'status' and 'log', in this
// process on every store, and from worker processes to a producer that listens, through
// the store's event log (a SQLite file; a private redis-server).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { Executor } from '../index.mjs'
import { placesForThisFile, storeOptions } from './support/places.mjs'
import { sleep, until, spawnNode } from './support/processes.mjs'

const fixture = fileURLToPath(new URL('./fixtures/registry-worker.mjs', import.meta.url))
const { place, redis: server } = placesForThisFile('ev')

/** Events of one executor, by kind. */
function record(ex) {
  const seen = { state: [], completed: [], failed: [], progress: [], status: [], log: [] }
  for (const kind of Object.keys(seen)) ex.on(kind, (e) => seen[kind].push(e))
  return seen
}

test('in this process: completed carries the result, failed the error and whether it will retry; state shows RETRY', async () => {
  const ex = new Executor()
  const seen = record(ex)
  let runs = 0
  ex.register('flaky', (x) => {
    if (++runs === 1) throw new Error('first fails')
    return { doubled: x * 2 }
  }, { retry: { maxRetries: 1, delayMs: 1 }, queue: 'q1' })
  ex.register('never', () => {
    throw new TypeError('always')
  })
  try {
    const h = await ex.submit('flaky', 21)
    await h.result()
    const bad = await ex.submit('never', null)
    await bad.result().catch(() => {})
    await sleep(20)
    assert.deepEqual(seen.state.filter((e) => e.id === h.id).map((e) => e.state), ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'RECEIVED', 'STARTED', 'SUCCESS'])
    assert.equal(seen.state[0].queue, 'q1')
    assert.equal(seen.completed.length, 1)
    const c = seen.completed[0]
    assert.deepEqual({ id: c.id, name: c.name, queue: c.queue, result: c.result, attempt: c.attempt }, { id: h.id, name: 'flaky', queue: 'q1', result: { doubled: 42 }, attempt: 2 })
    assert.equal(typeof c.durationMs, 'number')
    assert.deepEqual(seen.failed.map((f) => [f.name, f.attempt, f.willRetry, f.error.type, f.error.message]), [
      ['flaky', 1, true, 'Error', 'first fails'],
      ['never', 1, false, 'TypeError', 'always'],
    ])
  } finally {
    await ex.close()
  }
})


async function startWorker(p, tasks) {
  const child = spawnNode([fixture, p.store, p.namespace, '{}', JSON.stringify(tasks)], { stdio: ['ignore', 'pipe', 'inherit'] })
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => d.toString().includes('ready') && resolve())
    child.once('exit', () => reject(new Error('the worker exited before it was ready')))
  })
  return child
}

for (const kind of ['sqlite', 'redis']) {
  test(`${kind}: a producer sees the events of tasks that worker processes ran, each once`, async () => {
    const p = place(kind)
    const workers = [await startWorker(p, { job: { retry: { maxRetries: 1, delayMs: 5 } } }), await startWorker(p, { job: { retry: { maxRetries: 1, delayMs: 5 } } })]
    const ex = new Executor({ ...storeOptions(p), worker: false })
    const seen = record(ex)
    try {
      // Submitted right away: workers log for a listener from its registration on.
      const ok = await ex.submit('job', { n: 1, failTimes: 1, report: true })
      const bad = await ex.submit('job', { n: 2, failTimes: 9 })
      const many = await ex.submitMany('job', Array.from({ length: 50 }, (_, i) => ({ n: i })))
      assert.equal((await ok.result({ timeoutMs: 20_000 })).attempt, 2)
      await assert.rejects(bad.result({ timeoutMs: 20_000 }), /attempt 2 fails/)
      await Promise.all(many.map((h) => h.result({ timeoutMs: 20_000 })))
      await until(() => seen.completed.length >= 51 && seen.failed.length >= 3, 10_000, 'the events').catch((e) => {
        throw new Error(`${e.message}: ${seen.completed.length} completed, ${seen.failed.length} failed`)
      })
      await sleep(200)

      const states = seen.state.filter((e) => e.id === ok.id).map((e) => e.state)
      assert.deepEqual(states, ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'RECEIVED', 'STARTED', 'SUCCESS'])
      const done = seen.completed.find((e) => e.id === ok.id)
      assert.equal(done.result.attempt, 2)
      assert.equal(done.name, 'job')
      assert.equal(done.queue, 'default')
      assert.equal(done.attempt, 2)
      assert.ok(workers.some((w) => w.pid === done.result.pid))
      assert.deepEqual(seen.failed.filter((e) => e.id === bad.id).map((e) => [e.attempt, e.willRetry, e.error.message]), [
        [1, true, 'attempt 1 fails'],
        [2, false, 'attempt 2 fails'],
      ])
      // Each event once, whichever worker ran the task.
      assert.equal(seen.completed.length, 51)
      assert.equal(new Set(seen.completed.map((e) => e.id)).size, 51)
      assert.equal(seen.failed.length, 3)
      assert.ok(seen.progress.some((e) => e.id === ok.id && e.percent === 50 && e.message === 'half way'), JSON.stringify(seen.progress))
      assert.ok(seen.status.some((e) => e.id === ok.id && e.status === 'busy'))
      assert.ok(seen.log.some((e) => e.id === ok.id && e.message === 'hello from the worker' && e.time instanceof Date))
    } finally {
      await ex.close()
      for (const w of workers) w.kill('SIGTERM')
      await Promise.all(workers.map((w) => w.exited))
    }
  })

  test(`${kind}: nothing is logged while nobody listens, and a listener that leaves stops the logging`, async () => {
    const p = place(kind)
    const worker = await startWorker(p, { job: {} })
    const ex = new Executor({ ...storeOptions(p), worker: false })
    try {
      await (await ex.submit('job', { n: 1 })).result({ timeoutMs: 20_000 })
      const listening = new Executor({ ...storeOptions(p), worker: false })
      const got = []
      const onDone = (e) => got.push(e.id)
      listening.on('completed', onDone)
      const h = await ex.submit('job', { n: 2 })
      await h.result({ timeoutMs: 20_000 })
      await until(() => got.includes(h.id), 5000, 'the completed event')
      listening.off('completed', onDone)
      await listening.close()
      await sleep(6500) // the registration lapses; workers stop logging
      const before = await logSize(p)
      await (await ex.submit('job', { n: 3 })).result({ timeoutMs: 20_000 })
      await sleep(300)
      assert.equal(await logSize(p), before, 'no events logged without listeners')
    } finally {
      await ex.close()
      worker.kill('SIGTERM')
      await worker.exited
    }
  })
}

/** Batches in the store's event log (SQLite rows, Redis stream entries). */
async function logSize(p) {
  if (p.namespace === '-') {
    const { execFileSync } = await import('node:child_process')
    // python3's sqlite3 (Node 20 has no node:sqlite): count the rows, read-only.
    const file = p.store.slice('sqlite:'.length)
    const script = 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); print(c.execute("SELECT COUNT(*) FROM events").fetchone()[0])'
    return Number(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' }).trim())
  }
  const { execFileSync } = await import('node:child_process')
  return Number(execFileSync('redis-cli', ['-p', String(server().port), 'XLEN', `{${p.namespace}}:events`], { encoding: 'utf8' }).trim())
}

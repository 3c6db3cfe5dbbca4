// Cron schedules through the public API: ticks submit tasks, list / pause / resume /
// remove, declaring again does not duplicate, and bad input is refused. Runs on every
// store (see support/run-on-*.mjs). Missed-tick policies after downtime are covered with
// a manual clock in crates/engine/tests/conformance.rs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor } from '../index.mjs'
import { suiteStore } from './support/suite-store.mjs'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

test('a 6-field schedule submits its task at every second with its payload', async () => {
  const ex = new Executor()
  const runs = []
  ex.register('tick', async (payload, ctx) => {
    runs.push({ payload, id: ctx.id })
  })
  const s = await ex.schedule('tick', '* * * * * *', { hello: 'cron' })
  assert.equal(s.id, 'tick@* * * * * *')
  assert.equal(s.missed, 'runOnce')
  assert.equal(s.paused, false)
  assert.ok(s.nextRunAt instanceof Date)
  assert.equal(s.nextRunAt.getTime() % 1000, 0, 'ticks fall on whole seconds')
  assert.ok(s.nextRunAt.getTime() > Date.now() - 5 && s.nextRunAt.getTime() <= Date.now() + 1000)
  await until(() => runs.length >= 2, 5000, 'two ticks')
  assert.deepEqual(runs[0].payload, { hello: 'cron' })
  const info = await ex.task(runs[1].id).info()
  assert.match(info.key, /^cron:tick@\* \* \* \* \* \*:\d{13}$/, 'each tick is keyed by its time')
  const ticks = await Promise.all(runs.slice(0, 2).map(async (r) => Number((await ex.task(r.id).info()).key.split(':').pop())))
  assert.equal(ticks[1] - ticks[0], 1000, 'consecutive ticks, one second apart')
  await ex.close()
})

test('5-field expressions tick on minutes, in the time zone given', async () => {
  const ex = new Executor()
  ex.register('report', () => {})
  const utc = await ex.schedule('report', '0 9 * * *', null)
  const tokyo = await ex.schedule('report', '0 9 * * *', null, { tz: 'Asia/Tokyo' })
  assert.equal(utc.nextRunAt.getUTCHours(), 9)
  assert.equal(utc.nextRunAt.getUTCMinutes(), 0)
  assert.equal(tokyo.id, 'report@0 9 * * *@Asia/Tokyo')
  assert.equal(tokyo.tz, 'Asia/Tokyo')
  assert.equal(tokyo.nextRunAt.getUTCHours(), 0, '09:00 in Tokyo is 00:00 UTC')
  assert.equal((await ex.schedules()).length, 2)
  await ex.close()
})

test('list, pause, resume and remove; declaring the same schedule again updates it', async () => {
  const ex = new Executor()
  let runs = 0
  ex.register('tick', () => {
    runs++
  })
  await ex.schedule('tick', '0 0 1 1 *', 1, { id: 'yearly', missed: 'skip' })
  const again = await ex.schedule('tick', '0 0 1 1 *', 2, { id: 'yearly', missed: 'skip' })
  assert.equal(again.payload, 2)
  let list = await ex.schedules()
  assert.deepEqual(
    list.map((s) => [s.id, s.cron, s.payload, s.missed]),
    [['yearly', '0 0 1 1 *', 2, 'skip']],
  )
  const paused = await ex.pauseSchedule('yearly')
  assert.equal(paused.paused, true)
  assert.equal(paused.nextRunAt, null)
  // Declared again while paused (a process restarting): it stays paused.
  assert.equal((await ex.schedule('tick', '0 0 1 1 *', 2, { id: 'yearly', missed: 'skip' })).paused, true)
  const resumed = await ex.resumeSchedule('yearly')
  assert.equal(resumed.paused, false)
  assert.equal(resumed.nextRunAt.getUTCMonth(), 0)
  assert.equal(resumed.nextRunAt.getUTCDate(), 1)

  // A paused every-second schedule submits nothing.
  await ex.schedule('tick', '* * * * * *', null, { id: 'often' })
  await ex.pauseSchedule('often')
  const before = runs
  await sleep(1300)
  assert.equal(runs, before)
  assert.equal(await ex.removeSchedule('often'), true)
  assert.equal(await ex.removeSchedule('often'), false)
  list = await ex.schedules()
  assert.deepEqual(
    list.map((s) => s.id),
    ['yearly'],
  )
  await ex.close()
})

test('bad schedules are refused with an error naming the problem, and nothing is stored', async () => {
  const ex = new Executor()
  ex.register('tick', () => {})
  await assert.rejects(ex.schedule('tick', '* * *', null), {
    name: 'TypeError',
    message: "invalid cron expression '* * *': expected 5 fields (minute hour day month weekday) or 6 (seconds first), got 3",
  })
  await assert.rejects(ex.schedule('tick', '61 * * * *', null), { name: 'TypeError', message: /^invalid cron expression '61 \* \* \* \*'/ })
  await assert.rejects(ex.schedule('tick', '* * * * *', null, { tz: 'Mars/Olympus' }), {
    name: 'TypeError',
    message: "unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/Berlin' or 'UTC'",
  })
  await assert.rejects(ex.schedule('tick', '* * * * *', null, { missed: 'all' }), { message: "`missed` must be 'runOnce' or 'skip', got 'all'" })
  await assert.rejects(ex.schedule('nope', '* * * * *', null), { name: 'TypeError', message: /unknown task 'nope'/ })
  await assert.rejects(ex.schedule('tick', '* * * * *', () => 1), { name: 'TypeError', message: /not JSON/ })
  await assert.rejects(ex.schedule('tick', '* * * * *', null, { every: 5 }), { message: "unknown schedule() option 'every' (expected id, tz, missed)" })
  await assert.rejects(ex.pauseSchedule('missing'), { message: "no schedule with id 'missing'" })
  assert.deepEqual(await ex.schedules(), [])
  await ex.close()
})

test('a producer-only executor declares schedules but fires none', async () => {
  // A producer needs a shared store: the memory run of the suites uses a SQLite file here.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-producer-'))
  const store = suiteStore === 'memory' ? { store: `sqlite:${path.join(dir, 'tasks.db')}` } : {}
  const ex = new Executor({ worker: false, ...store })
  ex.register('tick', () => {})
  await ex.schedule('tick', '* * * * * *', null)
  await sleep(1300)
  const counts = await ex.counts()
  assert.equal(counts.total.PENDING, 0)
  await ex.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

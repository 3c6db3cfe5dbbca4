// Workflows and schedules with several real worker processes on one store — a SQLite
// file, and a redis-server of the test's own: chord callbacks and cron ticks run exactly
// once, and a workflow whose worker is killed with SIGKILL goes on in another worker.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Executor, TaskCancelledError, sig, chain, group, chord } from '../index.mjs'
import { startRedis } from './support/redis-server.mjs'
import { until, lines, spawnNode } from './support/processes.mjs'

const fixture = fileURLToPath(new URL('./fixtures/workflow-worker.mjs', import.meta.url))
let redis
let places = 0

before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

/** A fresh store of `kind` and a log file. */
function place(kind) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-workflows-'))
  const log = path.join(dir, 'runs.log')
  if (kind === 'sqlite') return { store: `sqlite:${path.join(dir, 'tasks.db')}`, namespace: '-', log }
  return { store: redis.url, namespace: `wf${process.pid}-${++places}`, log }
}

function executor(p, options = {}) {
  const ex = new Executor({ store: p.store, ...(p.namespace === '-' ? {} : { namespace: p.namespace }), ...options })
  for (const name of ['part', 'collect', 'step', 'slow', 'hold', 'tick']) ex.register(name, () => {})
  return ex
}

async function startWorker(p, { leaseMs = 30_000, mode = 'serve' } = {}) {
  const child = spawnNode([fixture, p.store, p.namespace, p.log, String(leaseMs), mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => d.toString().includes('ready') && resolve())
    child.once('exit', () => reject(new Error('the worker exited before it was ready')))
  })
  return child
}

async function stop(children) {
  for (const c of children) c.kill('SIGTERM')
  return Promise.all(children.map((c) => c.exited))
}



async function allTasks(ex, name) {
  const out = []
  let cursor
  do {
    const page = await ex.list({ name, limit: 1000, cursor })
    out.push(...page.tasks)
    cursor = page.cursor ?? undefined
  } while (cursor)
  return out
}

for (const kind of ['sqlite', 'redis']) {
  test(`${kind}: chord callbacks run exactly once while header members finish on 3 processes`, async () => {
    const p = place(kind)
    const workers = await Promise.all([1, 2, 3].map(() => startWorker(p)))
    const ex = executor(p, { worker: false })
    const chords = 30
    const handles = await Promise.all(
      Array.from({ length: chords }, (_, c) =>
        ex.submit(chord(Array.from({ length: 8 }, (_, i) => sig('part', [c * 8 + i])), sig('collect'))),
      ),
    )
    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })))
    results.forEach((r, c) => assert.equal(r, Array.from({ length: 8 }, (_, i) => c * 8 + i).reduce((a, b) => a + b)))
    await stop(workers)
    const collects = lines(p.log).filter(([what]) => what === 'collect')
    assert.equal(collects.length, chords, 'one callback run per chord')
    assert.equal(new Set(collects.map(([, id]) => id)).size, chords)
    const partPids = new Set(lines(p.log).filter(([what]) => what === 'part').map(([, , pid]) => pid))
    assert.ok(partPids.size > 1, 'header members ran on several processes')
    assert.equal((await allTasks(ex, 'collect')).length, chords, 'one callback task stored per chord')
    await ex.close()
  })

  test(`${kind}: a workflow whose worker is killed with SIGKILL goes on in another worker`, async () => {
    const p = place(kind)
    const a = await startWorker(p, { leaseMs: 1000 })
    const ex = executor(p, { worker: false })
    const h = await ex.submit(chain(sig('step', ['a']), sig('slow', [1500]), sig('step', ['c'])))
    await until(() => lines(p.log).some(([what]) => what === 'slow-start'), 20_000, 'the slow step to start')
    a.kill('SIGKILL')
    assert.equal((await a.exited).signal, 'SIGKILL')
    const b = await startWorker(p, { leaseMs: 1000 })
    assert.equal(await h.result({ timeoutMs: 60_000 }), 'c done')
    await stop([b])
    const log = lines(p.log)
    const count = (what) => log.filter(([w]) => w === what).length
    assert.equal(count('step-a'), 1, 'the finished step did not run again')
    assert.equal(count('slow-start'), 2, 'the step the dead worker held ran again')
    assert.deepEqual(
      log.filter(([w]) => w === 'slow-start').map(([, , pid]) => Number(pid)),
      [a.pid, b.pid],
    )
    assert.equal(count('step-c'), 1)
    const members = await h.members()
    assert.deepEqual(
      members.map((m) => m.state),
      ['SUCCESS', 'SUCCESS', 'SUCCESS'],
    )
    assert.equal((await ex.task(members[1].id).info()).attempt, 2, 'the lost run counted as an attempt')
    await ex.close()
  })

  test(`${kind}: each cron tick runs exactly once across 3 processes declaring the same schedule`, async () => {
    const p = place(kind)
    const workers = await Promise.all([1, 2, 3].map(() => startWorker(p, { mode: 'cron' })))
    await until(() => lines(p.log).filter(([w]) => w === 'tick').length >= 3, 15_000, 'three ticks')
    await stop(workers)
    const ex = executor(p, { worker: false })
    const ticks = lines(p.log).filter(([w]) => w === 'tick')
    assert.equal(new Set(ticks.map(([, id]) => id)).size, ticks.length, 'no task ran twice')
    const stored = await allTasks(ex, 'tick')
    const keys = stored.map((t) => t.key)
    assert.equal(new Set(keys).size, stored.length, 'one task per tick')
    assert.ok(stored.length >= 3)
    const times = keys.map((k) => Number(k.split(':').pop())).sort()
    for (let i = 1; i < times.length; i++) assert.equal(times[i] - times[i - 1], 1000, 'consecutive seconds, none twice')
    assert.deepEqual(stored[0].payload, { from: 'cron' })
    assert.equal((await ex.schedules()).length, 1, 'one schedule, declared three times')
    await ex.close()
  })

  test(`${kind}: cancel() from another process cancels the workflow's running members`, async () => {
    const p = place(kind)
    const w = await startWorker(p)
    const ex = executor(p, { worker: false })
    const h = await ex.submit(chain(sig('step', ['a']), group(sig('hold', [60_000]), sig('hold', [60_000])), sig('step', ['c'])))
    await until(() => lines(p.log).filter(([what]) => what === 'hold-start').length === 2, 20_000, 'both members to run')
    assert.equal(await h.cancel(), true)
    await assert.rejects(h.result({ timeoutMs: 20_000 }), TaskCancelledError)
    await until(async () => (await h.members()).every((m) => m.state !== 'STARTED'), 20_000, 'the members to stop')
    assert.deepEqual(
      (await h.members()).map((m) => m.state),
      ['SUCCESS', 'REVOKED', 'REVOKED', 'REVOKED'],
    )
    assert.equal(lines(p.log).filter(([what]) => what === 'hold-aborted').length, 2, "both members' signals aborted")
    assert.equal(lines(p.log).filter(([what]) => what === 'step-c').length, 0)
    await stop([w])
    await ex.close()
  })


  test(`${kind}: a workflow cancelled while its worker is dead is revoked by the next worker, members too`, async () => {
    const p = place(kind)
    const a = await startWorker(p, { leaseMs: 1000 })
    const ex = executor(p, { worker: false })
    const h = await ex.submit(chain(sig('step', ['a']), group(sig('hold', [60_000]), sig('hold', [60_000])), sig('step', ['c'])))
    const count = (what) => lines(p.log).filter(([w]) => w === what).length
    await until(() => count('hold-start') === 2, 20_000, 'both members to run')
    a.kill('SIGKILL')
    await a.exited
    assert.equal(await h.cancel(), true, 'requested: the worker holding it is gone')
    const b = await startWorker(p, { leaseMs: 1000 })
    await assert.rejects(h.result({ timeoutMs: 30_000 }), TaskCancelledError)
    const settled = async () => (await h.members()).every((m) => ['SUCCESS', 'FAILURE', 'REVOKED'].includes(m.state))
    await until(settled, 30_000, 'the members to be revoked')
    assert.deepEqual(
      (await h.members()).map((m) => m.state),
      ['SUCCESS', 'REVOKED', 'REVOKED', 'REVOKED'],
    )
    assert.equal(count('step-c'), 0, 'the step after the group never ran')
    await stop([b])
    await ex.close()
  })

  test(`${kind}: a task cancelled while its worker is dead is revoked, not run again`, async () => {
    const p = place(kind)
    const a = await startWorker(p, { leaseMs: 1000 })
    const ex = executor(p, { worker: false })
    const t = await ex.submit('hold', [60_000])
    await until(() => lines(p.log).some(([w]) => w === 'hold-start'), 20_000, 'the task to run')
    a.kill('SIGKILL')
    await a.exited
    assert.equal(await t.cancel(), true)
    const b = await startWorker(p, { leaseMs: 1000 })
    await assert.rejects(t.result({ timeoutMs: 30_000 }), TaskCancelledError)
    assert.equal(lines(p.log).filter(([w]) => w === 'hold-start').length, 1, 'it did not run again')
    await stop([b])
    await ex.close()
  })

}

// The SQLite store across processes: a worker killed with SIGKILL loses nothing, and
// several worker processes share one file without running a task twice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Executor } from '../index.mjs'
import { spawnNode } from './support/processes.mjs'

const worker = fileURLToPath(new URL('./fixtures/sqlite-worker.mjs', import.meta.url))
const hanging = fileURLToPath(new URL('./fixtures/hanging-worker.mjs', import.meta.url))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function tempFiles() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-durability-'))
  return { dir, db: path.join(dir, 'tasks.db'), log: path.join(dir, 'runs.log') }
}

function startWorker(args) {
  const child = spawnNode([worker, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] })
  child.stdoutText = ''
  child.stdout.on('data', (d) => (child.stdoutText += d))
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return child
}

function runs(log) {
  const byId = new Map()
  if (!fs.existsSync(log)) return byId
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    if (line === '') continue
    const [id, pid] = line.split(' ')
    if (!byId.has(id)) byId.set(id, [])
    byId.get(id).push(Number(pid))
  }
  return byId
}

/** Every stored task, read through the public API page by page. */
async function allTasks(db) {
  const ex = new Executor({ store: `sqlite:${db}`, worker: false })
  const tasks = []
  let cursor
  do {
    const page = await ex.list({ limit: 1000, ...(cursor ? { cursor } : {}) })
    tasks.push(...page.tasks)
    cursor = page.cursor
  } while (cursor)
  const counts = await ex.counts()
  await ex.close()
  return { tasks, counts }
}

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

test('a worker killed with SIGKILL mid-run loses nothing: after a restart every task completes', async () => {
  const N = 3000
  const { dir, db, log } = tempFiles()
  const first = startWorker([db, log, 32, 1000, 'submit', N])
  await until(() => first.stdoutText.includes('submitted') && runs(log).size >= 500, 30_000, 'the first worker to be busy')
  first.kill('SIGKILL')
  const { signal } = await first.exited
  assert.equal(signal, 'SIGKILL')
  const ranBefore = runs(log)
  assert.ok(ranBefore.size < N, `killed mid-run (${ranBefore.size} of ${N} had started)`)

  const second = startWorker([db, log, 32, 1000])
  assert.equal((await second.exited).code, 0)

  const { tasks, counts } = await allTasks(db)
  assert.equal(tasks.length, N, 'every submitted task is stored')
  assert.equal(counts.total.SUCCESS, N, 'and every one succeeded')
  const ran = runs(log)
  const twice = [...ran].filter(([, pids]) => pids.length > 1)
  for (const t of tasks) {
    assert.ok(ran.has(t.id), `task ${t.id} ran`)
    assert.equal(t.result, t.payload * 2)
  }
  // Only tasks that were running (or finished but not yet committed) when the first
  // worker died run again — at most a few batches of its concurrency — and each of
  // them shows the extra attempt.
  assert.ok(twice.length <= 4 * 32, `${twice.length} tasks ran twice`)
  const byId = new Map(tasks.map((t) => [t.id, t]))
  for (const [id, pids] of twice) {
    assert.equal(pids.length, 2)
    assert.equal(pids[0], first.pid, 'its first run was in the killed worker')
    assert.equal(byId.get(id).attempt, 2, 'the lost run counts as an attempt')
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

test('a worker killed on the same host is recovered by a live worker at once, not after its lease', async () => {
  const LEASE_MS = 120_000
  const { dir, db } = tempFiles()
  const producer = new Executor({ store: `sqlite:${db}`, worker: false })
  const handles = await producer.submitMany('hang', [1, 2, 3])
  const child = spawnNode([hanging, db, LEASE_MS], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal)))
  await until(() => out.split('\n').filter((l) => l.startsWith('started ')).length === 3, 30_000, 'the child to start all three')
  // A live worker of the same task on the same file, in this process.
  const live = new Executor({ store: `sqlite:${db}`, leaseMs: LEASE_MS })
  live.register('hang', (n, ctx) => `recovered ${n} at attempt ${ctx.attempt}`)
  // While the child lives, its tasks stay its own (its pid is alive).
  await sleep(2_500)
  for (const h of handles) assert.equal((await h.info()).state, 'STARTED', 'a live worker is not robbed')
  const killedAt = Date.now()
  child.kill('SIGKILL')
  assert.equal(await exited, 'SIGKILL')
  const results = await Promise.all(handles.map((h) => h.result()))
  const waited = Date.now() - killedAt
  assert.deepEqual(results, ['recovered 1 at attempt 2', 'recovered 2 at attempt 2', 'recovered 3 at attempt 2'])
  assert.ok(waited < LEASE_MS / 6, `recovered ${waited} ms after the kill, long before the ${LEASE_MS} ms lease`)
  await live.close()
  await producer.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('several worker processes share one file and no task runs twice', async () => {
  const N = 1500
  const { dir, db, log } = tempFiles()
  const producer = new Executor({ store: `sqlite:${db}`, worker: false })
  producer.register('work', () => {})
  const handles = await producer.submitMany('work', Array.from({ length: N }, (_, i) => i))
  await producer.close()
  const workers = [1, 2, 3].map(() => startWorker([db, log, 4, 30_000]))
  for (const w of workers) assert.equal((await w.exited).code, 0)

  const ran = runs(log)
  assert.equal(ran.size, N)
  for (const [id, pids] of ran) assert.equal(pids.length, 1, `task ${id} ran ${pids.length} times`)
  const perWorker = workers.map((w) => [...ran.values()].filter((pids) => pids[0] === w.pid).length)
  assert.ok(perWorker.every((n) => n > 0), `every worker took a share: ${perWorker}`)
  const { counts } = await allTasks(db)
  assert.equal(counts.total.SUCCESS, N)
  const check = new Executor({ store: `sqlite:${db}`, worker: false })
  assert.equal(await check.task(handles[7].id).result(), 14, 'results are readable from any executor on the file')
  await check.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('workers started at once on a new file all open it (none fails with "database is locked")', async () => {
  // They race to create the file, switch it to WAL and migrate it; the loser of each
  // step must wait its turn. A few rounds, since a race shows only sometimes.
  const openAtOnce = fileURLToPath(new URL('./fixtures/open-at-once.mjs', import.meta.url))
  for (let round = 0; round < 8; round++) {
    const { dir, db } = tempFiles()
    const children = Array.from({ length: 4 }, () => {
      const child = spawnNode([openAtOnce, db], { stdio: ['ignore', 'ignore', 'pipe'] })
      let err = ''
      child.stderr.on('data', (d) => (err += d))
      return new Promise((resolve) => child.on('exit', (code) => resolve({ code, err })))
    })
    for (const { code, err } of await Promise.all(children)) assert.equal(code, 0, err)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

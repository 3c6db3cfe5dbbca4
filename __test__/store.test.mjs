// Store-facing API: list() and counts() (on whichever store the suite runs on), retention,
// and the SQLite store's options and its refusal of files that are not its own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor, StoreError } from '../index.mjs'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-store-'))

test('list() pages through tasks by state, name and queue; counts() per state and queue', async () => {
  const ex = new Executor({ concurrency: 1 })
  ex.register('a', (n) => n)
  ex.register('b', (n) => n, { queue: 'other' })
  const done = await ex.submitMany('a', [1, 2, 3])
  await Promise.all(done.map((t) => t.result()))
  const later = await ex.submitMany('b', [4, 5], { delayMs: 60_000 })
  const counts = await ex.counts()
  assert.equal(counts.total.SUCCESS, 3)
  assert.equal(counts.total.PENDING, 2)
  assert.deepEqual(counts.queues.other, { PENDING: 2, RECEIVED: 0, STARTED: 0, SUCCESS: 0, FAILURE: 0, RETRY: 0, REVOKED: 0 })
  const first = await ex.list({ name: 'a', limit: 2 })
  assert.deepEqual(first.tasks.map((t) => t.id), [done[0].id, done[1].id])
  assert.ok(first.tasks[0].createdAt instanceof Date)
  const rest = await ex.list({ name: 'a', cursor: first.cursor })
  assert.deepEqual(rest.tasks.map((t) => t.result), [3])
  assert.equal(rest.cursor, null)
  const pending = await ex.list({ state: 'PENDING', queue: 'other' })
  assert.deepEqual(pending.tasks.map((t) => t.id), later.map((t) => t.id))
  await assert.rejects(ex.list({ limit: 0 }), (e) => e instanceof TypeError && /limit/.test(e.message))
  await assert.rejects(ex.list({ state: 'DONE' }), (e) => e instanceof TypeError && /DONE/.test(e.message))
  await assert.rejects(ex.list({ cursor: 'nope' }), (e) => e instanceof TypeError && /cursor/.test(e.message))
  await assert.rejects(ex.list({ sate: 'PENDING' }), (e) => e instanceof TypeError && /sate/.test(e.message))
  await ex.close({ timeoutMs: 10 })
})

test('counts() and list() agree with what info() already showed: an outcome read here is counted', async () => {
  const ex = new Executor({ concurrency: 4 })
  ex.register('quick', (n) => n)
  for (let i = 0; i < 40; i++) {
    const t = await ex.submit('quick', i)
    // Not result(): info() reads this process's own memory, which knows first.
    let info = await t.info()
    while (info.state !== 'SUCCESS') {
      await new Promise((resolve) => setImmediate(resolve))
      info = await t.info()
    }
    const counts = await ex.counts()
    assert.equal(counts.total.SUCCESS, i + 1, `after task ${i}`)
    const page = await ex.list({ state: 'SUCCESS', limit: 1000 })
    assert.ok(page.tasks.some((x) => x.id === t.id), `task ${i} listed as SUCCESS`)
  }
  await ex.close()
})

test('keepResults trims finished tasks by count', async () => {
  const ex = new Executor({ keepResults: { count: 5 } })
  ex.register('t', (n) => n)
  const handles = await ex.submitMany('t', Array.from({ length: 20 }, (_, i) => i))
  await Promise.all(handles.map((t) => t.result()))
  const deadline = Date.now() + 5_000
  while ((await ex.counts()).total.SUCCESS > 5 && Date.now() < deadline) await sleep(50)
  assert.equal((await ex.counts()).total.SUCCESS, 5)
  assert.equal(await handles.at(-1).result(), 19, 'the newest stay')
  await assert.rejects(handles[0].state(), /no task with id/)
  await ex.close()
})

test('a task\'s own keepResults overrides the executor\'s for its finished tasks', async () => {
  const ex = new Executor({ keepResults: { count: 2 } })
  ex.register('plain', (n) => n)
  ex.register('kept', (n) => n, { keepResults: { count: 4 } })
  assert.deepEqual(ex.info('kept').keepResults, { count: 4, ageMs: null })
  assert.deepEqual(ex.info('plain').keepResults, { count: 2, ageMs: null })
  for (const name of ['plain', 'kept']) {
    await Promise.all((await ex.submitMany(name, [1, 2, 3, 4, 5, 6])).map((t) => t.result()))
  }
  const finished = async (name) => (await ex.list({ name, state: 'SUCCESS' })).tasks.length
  const deadline = Date.now() + 5_000
  while (((await finished('plain')) > 2 || (await finished('kept')) > 4) && Date.now() < deadline) await sleep(50)
  assert.equal(await finished('plain'), 2)
  assert.equal(await finished('kept'), 4)
  assert.throws(() => ex.register('bad', () => 1, { keepResults: { count: -1 } }), (e) => e instanceof TypeError && /keepResults.count/.test(e.message))
  await ex.close()
})

test('keepResults trims finished tasks by age', async () => {
  const ex = new Executor({ keepResults: { ageMs: 100 } })
  ex.register('t', (n) => n)
  const handles = await ex.submitMany('t', [1, 2, 3])
  await Promise.all(handles.map((t) => t.result()))
  await sleep(150)
  const late = await ex.submit('t', 4) // keeps the memory store stepping; retention runs as tasks settle
  await late.result()
  const deadline = Date.now() + 5_000
  while ((await ex.counts()).total.SUCCESS > 1 && Date.now() < deadline) await sleep(50)
  assert.ok((await ex.counts()).total.SUCCESS <= 1, 'at most the task finished last is kept')
  for (const t of handles) await assert.rejects(t.state(), /no task with id/)
  await ex.close()
})

test('a SQLite file keeps tasks across executors; options are checked', async () => {
  const dir = tmp()
  const store = `sqlite:${path.join(dir, 'tasks.db')}`
  const producer = new Executor({ store, worker: false })
  producer.register('double', () => 0)
  const t = await producer.submit('double', 21, { key: 'job-21' })
  assert.equal(await t.state(), 'PENDING')
  const again = await producer.submit('double', 99, { key: 'job-21' })
  assert.equal(again.id, t.id, 'an idempotency key holds across the file')
  await producer.close()

  const worker = new Executor({ store, leaseMs: 5_000, pollIntervalMs: 10 })
  worker.register('double', (n) => n * 2)
  assert.equal(await worker.task(t.id).result(), 42)
  await worker.close()

  for (const [options, pattern] of [
    [{ store: 'sqlite:' }, /needs a file path/],
    [{ store: 'sqlite:x.db', leaseMs: 0 }, /leaseMs/],
    [{ store: 'sqlite:x.db', pollIntervalMs: 1.5 }, /pollIntervalMs/],
    [{ store: 'postgres://localhost' }, /unsupported store 'postgres:\/\/localhost'/],
  ]) {
    assert.throws(() => new Executor(options), (e) => e instanceof TypeError && pattern.test(e.message))
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

test('a worker picks up tasks another executor submits to its file, within pollIntervalMs', async () => {
  const dir = tmp()
  const store = `sqlite:${path.join(dir, 'tasks.db')}`
  const worker = new Executor({ store, pollIntervalMs: 20 })
  worker.register('echo', (x) => x)
  const producer = new Executor({ store, worker: false })
  producer.register('echo', () => null)
  await sleep(50) // the worker has looked and found nothing: its claim request stands
  const started = Date.now()
  const t = await producer.submit('echo', 'hello')
  assert.equal(await t.result({ timeoutMs: 2_000 }), 'hello', 'run by the worker, awaited by the producer')
  assert.ok(Date.now() - started < 1_000)
  assert.equal((await t.info()).workerId, worker.workerId)
  const running = await producer.submit('echo', 'again')
  assert.equal(await worker.task(running.id).result({ timeoutMs: 2_000 }), 'again')
  await producer.close()
  await worker.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('files that are not taskloom databases are refused with StoreError and left untouched', () => {
  const dir = tmp()
  const notes = path.join(dir, 'notes.txt')
  const text = 'my notes, not a database\n'.repeat(20)
  fs.writeFileSync(notes, text)
  assert.throws(() => new Executor({ store: `sqlite:${notes}` }), (e) => e instanceof StoreError && e.code === 'ERR_STORE' && e.message.includes(notes) && /not a SQLite database/.test(e.message))
  assert.equal(fs.readFileSync(notes, 'utf8'), text)
  assert.equal(fs.existsSync(`${notes}-wal`), false)

  const corrupt = path.join(dir, 'corrupt.db')
  const bytes = Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(8192, 0x5a)])
  fs.writeFileSync(corrupt, bytes)
  assert.throws(() => new Executor({ store: `sqlite:${corrupt}` }), (e) => e instanceof StoreError && /corrupt|not a database/.test(e.message))
  assert.deepEqual(fs.readFileSync(corrupt), bytes)

  assert.throws(() => new Executor({ store: `sqlite:${path.join(dir, 'no/such/dir/tasks.db')}` }), (e) => e instanceof StoreError && /does not exist/.test(e.message))
  assert.throws(() => new Executor({ store: `sqlite:${dir}` }), (e) => e instanceof StoreError && /directory/.test(e.message))
  assert.throws(() => new Executor({ store: 'sqlite:/proc/taskloom.db' }), (e) => e instanceof StoreError && /cannot open/.test(e.message))
  fs.rmSync(dir, { recursive: true, force: true })
})

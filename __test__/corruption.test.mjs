// A damaged SQLite file: refused at construction when the check there finds it, and
// reported once (SQLITE_CORRUPT) without spinning when a worker only meets it later.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor, StoreError } from '../index.mjs'
import { sleep } from './support/processes.mjs'

const PAGE = 4096

/** A taskloom file holding 200 pending tasks, closed (its WAL folded in). */
async function fileWithTasks() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-corrupt-'))
  const db = path.join(dir, 'tasks.db')
  const ex = new Executor({ store: `sqlite:${db}`, worker: false })
  ex.register('job', () => 1)
  await ex.submitMany('job', Array.from({ length: 200 }, (_, i) => ({ i, pad: 'x'.repeat(200) })))
  await ex.close()
  return { dir, db }
}

/** Overwrites pages `from`.. of the file with garbage. */
function damage(db, from) {
  const fd = fs.openSync(db, 'r+')
  const pages = Math.floor(fs.fstatSync(fd).size / PAGE)
  for (let p = from; p < pages; p++) fs.writeSync(fd, Buffer.alloc(PAGE, 0xa5), 0, PAGE, p * PAGE + 8)
  fs.closeSync(fd)
}

test('a damaged file is refused at construction with a StoreError that says so, and left as it was', async () => {
  const { dir, db } = await fileWithTasks()
  try {
    damage(db, 3)
    const before = fs.readFileSync(db)
    assert.throws(
      () => new Executor({ store: `sqlite:${db}` }),
      (err) => err instanceof StoreError && /corrupt/.test(err.message) && err.message.includes(db),
    )
    assert.ok(fs.readFileSync(db).equals(before), 'the file was not touched')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('damage met by a running worker is reported once as an error event, and the worker does not spin', async () => {
  const { dir, db } = await fileWithTasks()
  try {
    const ex = new Executor({ store: `sqlite:${db}` })
    const errors = []
    ex.on('error', (err) => errors.push(err))
    damage(db, 2) // after the check at construction: the worker meets it when it claims
    ex.register('job', () => 1)
    await sleep(500)
    const before = process.cpuUsage()
    await sleep(2000)
    const used = process.cpuUsage(before)
    const cpuMs = (used.user + used.system) / 1000
    assert.ok(errors.length >= 1, 'the damage was reported')
    assert.ok(errors.length <= 2, `once per episode, not per retry (${errors.length} events)`)
    assert.ok(errors[0] instanceof StoreError)
    assert.match(errors[0].message, /SQLITE_CORRUPT|SQLITE_NOTADB/)
    assert.ok(cpuMs < 500, `backs off instead of spinning (${cpuMs.toFixed(0)} ms CPU in 2 s)`)
    await ex.close({ timeoutMs: 1000 })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

// A full disk under the SQLite store, on a real tmpfs: every acknowledged submit is in
// the file, every failed one rejects with a StoreError naming SQLITE_FULL, the executor
// says so once per episode, and the store recovers by itself when space comes back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { Executor, StoreError } from '../index.mjs'
import { mountTmpfs, fillUp } from './support/tmpfs.mjs'
import { sleep, until } from './support/processes.mjs'

const KB = 'x'.repeat(1000)

/** Submits batches of 100 until `failures` of them were refused; the ids acknowledged. */
async function submitUntilFull(ex, failures) {
  const acknowledged = []
  const errors = []
  for (let i = 0; i < 400 && errors.length < failures; i++) {
    try {
      const handles = await ex.submitMany('big', Array.from({ length: 100 }, (_, j) => ({ i, j, KB })))
      for (const h of handles) acknowledged.push(h.id)
    } catch (err) {
      errors.push(err)
    }
  }
  return { acknowledged, errors }
}

test('disk full, producer only: nothing acknowledged is lost; the store recovers when space returns', async () => {
  const fsys = mountTmpfs('6m')
  assert.equal(fsys.reason, undefined, 'this test mounts a real tmpfs (run the suite as root)')
  try {
    const db = path.join(fsys.dir, 'tasks.db')
    const ballast = path.join(fsys.dir, 'ballast')
    fs.writeFileSync(ballast, Buffer.alloc(3 * 1024 * 1024))
    const ex = new Executor({ store: `sqlite:${db}`, worker: false })
    ex.register('big', () => null)
    const faults = []
    ex.on('error', (err) => faults.push(err))
    const { acknowledged, errors } = await submitUntilFull(ex, 5)
    assert.ok(acknowledged.length > 0, 'some batches fitted')
    assert.equal(errors.length, 5, 'the disk filled up')
    for (const err of errors) {
      assert.ok(err instanceof StoreError, `a StoreError, got ${err}`)
      assert.match(err.message, /SQLITE_FULL/)
    }
    await sleep(50)
    assert.equal(faults.length, 1, 'one error event for the episode')
    assert.match(faults[0].message, /SQLITE_FULL/)
    // Every acknowledged task is there; the last one included.
    assert.equal(await ex.task(acknowledged.at(-1)).state(), 'PENDING')

    // Space comes back: the store takes submits again by itself, and the WAL, moved into
    // the file, does not eat the space freed.
    fs.rmSync(ballast)
    let more = []
    await until(async () => {
      try {
        more = await ex.submitMany('big', [{ after: 1 }, { after: 2 }])
        return true
      } catch {
        return false
      }
    }, 20_000, 'a submit after space came back')
    const wal = fs.statSync(`${db}-wal`).size
    assert.ok(wal < 512 * 1024, `the WAL was checkpointed and cut before writing again (${wal} bytes)`)
    await ex.close()

    const reader = new Executor({ store: `sqlite:${db}`, worker: false })
    const counts = await reader.counts()
    assert.equal(counts.total.PENDING, acknowledged.length + more.length, 'exactly the acknowledged tasks are stored')
    for (const id of [acknowledged[0], acknowledged.at(-1), more[1].id]) {
      assert.equal(await reader.task(id).state(), 'PENDING')
    }
    await reader.close()
  } finally {
    fsys.unmount()
  }
})

test('disk full with a worker: acknowledged tasks all finish once space returns, errors reported once', async () => {
  const fsys = mountTmpfs('4m')
  assert.equal(fsys.reason, undefined, 'this test mounts a real tmpfs (run the suite as root)')
  try {
    const db = path.join(fsys.dir, 'tasks.db')
    const ex = new Executor({ store: `sqlite:${db}`, concurrency: 8 })
    ex.register('big', (p) => ({ echo: p, KB }))
    const faults = []
    ex.on('error', (err) => faults.push(err))
    const ballast = path.join(fsys.dir, 'ballast')
    fillUp(ballast)
    fs.truncateSync(ballast, fs.statSync(ballast).size - 600 * 1024)
    const { acknowledged, errors } = await submitUntilFull(ex, 3)
    assert.ok(acknowledged.length > 0)
    assert.ok(errors.every((e) => e instanceof StoreError && /SQLITE_FULL/.test(e.message)))
    const episodes = faults.length
    assert.ok(episodes >= 1, 'the full disk was reported')
    fs.rmSync(ballast)
    const results = await Promise.all(acknowledged.map((id) => ex.task(id).result({ timeoutMs: 60_000 })))
    assert.equal(results.length, acknowledged.length)
    assert.deepEqual(results[0].echo.KB, KB)
    await ex.close()
    const reader = new Executor({ store: `sqlite:${db}`, worker: false })
    assert.equal((await reader.counts()).total.SUCCESS, acknowledged.length)
    await reader.close()
  } finally {
    fsys.unmount()
  }
})

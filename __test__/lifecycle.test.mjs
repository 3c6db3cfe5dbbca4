// Process exit, close() draining and deadlines, asyncDispose.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Executor, ExecutorClosedError } from '../index.mjs'

function runChild(file, timeoutMs = 10_000) {
  const path = fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }))
      else resolve(stdout)
    })
  })
}

test('the Node process exits by itself once nothing is pending, after delayed and rate-limited work ran', async () => {
  const started = Date.now()
  const out = await runChild('exits-when-idle.mjs')
  const lines = out.trim().split('\n')
  assert.deepEqual([...lines].sort(), ['ran delayed', 'ran limited-1', 'ran limited-2', 'ran limited-3', 'ran limited-4', 'ran now', 'submitted'])
  assert.ok(lines.indexOf('ran limited-4') > lines.indexOf('ran limited-1'), 'the backlog ran in order')
  assert.ok(Date.now() - started < 8_000, 'it exited rather than being killed')
})

test('close() aborts handlers still running at its deadline and fails them', async () => {
  const out = JSON.parse(await runChild('close-deadline.mjs'))
  assert.equal(out.sawAbort, true)
  assert.equal(out.state, 'FAILURE')
  assert.equal(out.error, 'ExecutorClosedError')
  assert.ok(out.waited >= 90, `close waited for its deadline (${out.waited} ms)`)
})

test('close() drains running handlers and stops taking work', async () => {
  const ex = new Executor({ concurrency: 2 })
  const finished = []
  ex.register('job', async (n) => {
    await new Promise((r) => setTimeout(r, 30))
    finished.push(n)
    return n
  })
  const handles = await ex.submitMany('job', [1, 2, 3, 4])
  await new Promise((r) => setTimeout(r, 5))
  await ex.close()
  assert.deepEqual(finished.sort(), [1, 2], 'the two running tasks finished; queued ones did not start')
  assert.equal(await handles[0].result(), 1)
  assert.equal(await handles[2].state(), 'PENDING')
  await assert.rejects(handles[2].result(), ExecutorClosedError)
  await assert.rejects(ex.submit('job', 5), ExecutorClosedError)
  assert.throws(() => ex.register('other', () => 1), ExecutorClosedError)
  await ex.close() // twice is fine
})

test('waiters for unfinished tasks are released by close()', async () => {
  const ex = new Executor()
  ex.register('x', () => 1)
  const t = await ex.submit('x', null, { delayMs: 60_000 })
  const waiting = t.result()
  await ex.close()
  await assert.rejects(waiting, ExecutorClosedError)
})

test('Symbol.asyncDispose closes the executor (await using)', async () => {
  let ex
  {
    ex = new Executor()
    ex.register('x', () => 1)
    await ex[Symbol.asyncDispose]()
  }
  await assert.rejects(ex.submit('x'), ExecutorClosedError)
})

// The results path: submit() calls of one tick coalesced into one engine call, result()
// watches sent in batches, successes settled from the dispatcher's own value. Each
// caller keeps its own handle, its own errors and the order of its calls.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor, TaskCancelledError, TaskFailedError, TimeoutError } from '../index.mjs'

test('submit() in a loop: every caller gets its own handle and result, in call order', async () => {
  const ex = new Executor({ concurrency: 1 })
  const seen = []
  ex.register('echo', (x) => {
    seen.push(x)
    return x * 2
  })
  const handles = await Promise.all(Array.from({ length: 500 }, (_, i) => ex.submit('echo', i)))
  assert.equal(new Set(handles.map((h) => h.id)).size, 500, 'distinct ids')
  const results = await Promise.all(handles.map((h) => h.result()))
  assert.deepEqual(results, Array.from({ length: 500 }, (_, i) => i * 2))
  assert.deepEqual(seen, Array.from({ length: 500 }, (_, i) => i), 'run in the order of the calls')
  await ex.close()
})

test('a bad payload among coalesced submits rejects only its own submit; nothing else changes', async () => {
  const ex = new Executor()
  ex.register('echo', (x) => x)
  const calls = [ex.submit('echo', 1), ex.submit('echo', NaN), ex.submit('echo', 3), ex.submit('echo', { f: () => 0 })]
  const settled = await Promise.allSettled(calls)
  assert.equal(settled[0].status, 'fulfilled')
  assert.equal(settled[2].status, 'fulfilled')
  assert.equal(settled[1].status, 'rejected')
  assert.match(settled[1].reason.message, /payload/)
  assert.equal(settled[3].status, 'rejected')
  assert.match(settled[3].reason.message, /\.f/)
  assert.equal(await settled[0].value.result(), 1)
  assert.equal(await settled[2].value.result(), 3)
  await ex.onIdle()
  assert.equal((await ex.counts()).total.SUCCESS, 2, 'only the two good submits were stored')
  await ex.close()
})

test('an option the engine refuses rejects each coalesced submit that carried it, and only those', async () => {
  const ex = new Executor()
  ex.register('echo', (x) => x)
  const good = ex.submit('echo', 1)
  const bad = [ex.submit('echo', 2, { nonsense: true }), ex.submit('echo', 3, { nonsense: true })]
  const alsoGood = ex.submit('echo', 4, { priority: 2 })
  for (const b of bad) await assert.rejects(b, /nonsense/)
  assert.equal(await (await good).result(), 1)
  assert.equal(await (await alsoGood).result(), 4)
  await ex.close()
})

test('submit() then submitMany() in one tick keep FIFO order', async () => {
  const ex = new Executor({ concurrency: 1 })
  const order = []
  ex.register('t', (x) => order.push(x))
  const a = ex.submit('t', 'a')
  const many = ex.submitMany('t', ['b', 'c'])
  const d = ex.submit('t', 'd')
  await Promise.all([a, many, d])
  await ex.onIdle()
  assert.deepEqual(order, ['a', 'b', 'c', 'd'])
  await ex.close()
})

test('onIdle() right after an unawaited submit() waits for that task', async () => {
  const ex = new Executor()
  let ran = false
  ex.register('t', async () => {
    await new Promise((r) => setTimeout(r, 20))
    ran = true
  })
  ex.submit('t', null)
  await ex.onIdle()
  assert.equal(ran, true)
  await ex.close()
})

test('a success turned REVOKED by a cancel during the run rejects result() with TaskCancelledError', async () => {
  const ex = new Executor()
  let release
  ex.register('slow', () => new Promise((r) => (release = r)))
  const t = await ex.submit('slow', null)
  const result = t.result()
  while (release === undefined) await new Promise((r) => setImmediate(r))
  assert.equal(await t.cancel(), true)
  release('ignored') // the handler returns a value anyway
  await assert.rejects(result, TaskCancelledError)
  assert.equal(await t.state(), 'REVOKED')
  await ex.close()
})

test('several result() calls on one task, one with a timeout that fires, the others settle', async () => {
  const ex = new Executor()
  let release
  ex.register('slow', () => new Promise((r) => (release = r)))
  const t = await ex.submit('slow', null)
  const a = t.result()
  const timed = t.result({ timeoutMs: 10 })
  const b = t.result()
  await assert.rejects(timed, TimeoutError)
  release(42)
  assert.deepEqual(await Promise.all([a, b]), [42, 42])
  assert.equal(await t.result(), 42, 'after it finished')
  await ex.close()
})

test('result() of a failed task and of many handles from one submitMany', async () => {
  const ex = new Executor({ concurrency: 8 })
  ex.register('odd', (x) => {
    if (x % 2 === 1) throw new Error(`odd ${x}`)
    return x
  })
  const handles = await ex.submitMany('odd', Array.from({ length: 100 }, (_, i) => i))
  const settled = await Promise.allSettled(handles.map((h) => h.result()))
  for (let i = 0; i < 100; i++) {
    if (i % 2 === 0) assert.deepEqual(settled[i], { status: 'fulfilled', value: i })
    else {
      assert.ok(settled[i].reason instanceof TaskFailedError)
      assert.equal(settled[i].reason.message.includes(`odd ${i}`), true)
    }
  }
  await ex.close()
})

test('result() waiting when the executor closes rejects, naming the task', async () => {
  const ex = new Executor()
  ex.register('never', () => 0)
  const t = await ex.submit('never', null, { delayMs: 60_000 })
  const r = t.result()
  await ex.close()
  await assert.rejects(r, new RegExp(`closed before task ${t.id}`))
})

// Bad input: a clear error naming the problem, at the call that caused it, and nothing enqueued.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor, TimeoutError, TaskNotFoundError } from '../index.mjs'
import { suiteStore } from './support/suite-store.mjs'

function fresh() {
  const ex = new Executor()
  ex.register('t', (x) => x)
  return ex
}

test('unknown and invalid task names are rejected', async () => {
  const ex = fresh()
  if (suiteStore === 'memory') {
    await assert.rejects(ex.submit('nope', 1), { name: 'TypeError', message: /unknown task 'nope'/ })
    await assert.rejects(ex.submitMany('nope', [1]), /unknown task 'nope'/)
  } else {
    // A durable store submits a name with no handler here by name (a producer), but a
    // name that could never be registered is refused, and nothing is stored.
    await assert.rejects(ex.submit('has space', 1), { name: 'TypeError', message: /task name 'has space' is not URL-safe/ })
    await assert.rejects(ex.submitMany('a/b', [1]), /not URL-safe/)
    assert.equal((await ex.counts()).total.PENDING, 0)
  }
  await assert.rejects(ex.run('nope', 1), /unknown task 'nope'/)
  assert.throws(() => ex.register('has space', () => 1), { name: 'TypeError', message: /not URL-safe/ })
  assert.throws(() => ex.register('a/b', () => 1), /not URL-safe/)
  assert.throws(() => ex.register('', () => 1), /1 to 128 characters/)
  assert.throws(() => ex.register(42, () => 1), /task name must be a string/)
  assert.throws(() => ex.register('fine', 'not a function'), /handler of task 'fine' must be a function/)
  assert.throws(() => ex.register('t', () => 1), { code: 'ERR_DUPLICATE_TASK', message: /already registered/ })
  assert.equal(ex.has('fine'), false, 'a failed registration registers nothing')
  await ex.close()
})

test('payloads that are not JSON are rejected with their path, and nothing is enqueued', async () => {
  const ex = fresh()
  const cyclic = { a: {} }
  cyclic.a.back = cyclic
  const cases = [
    [() => 1, /payload is a function/],
    [{ fn: () => 1 }, /payload\.fn is a function/],
    [[1, 2n], /payload\[1\] is a bigint/],
    [cyclic, /payload\.a\.back is a circular reference/],
    [{ s: Symbol('x') }, /payload\.s is a symbol/],
    [{ 'odd key': [Symbol('y')] }, /payload\["odd key"\]\[0\] is a symbol/],
  ]
  for (const [payload, message] of cases) {
    await assert.rejects(ex.submit('t', payload), { name: 'TypeError', message })
  }
  await assert.rejects(ex.submitMany('t', [1, 2, () => 3]), /payload at index 2 of task 't' is not JSON/)
  const all = await ex.submitMany('t', [1])
  const info = await all[0].info()
  assert.equal(info.payload, 1)
  // Only the one good submit reached the store.
  await ex.close()
})

test('handlers returning non-JSON values fail with a clear error', async () => {
  const ex = new Executor()
  ex.register('bad-result', () => ({ when: 1n }))
  const err = await (await ex.submit('bad-result')).result().catch((e) => e)
  assert.equal(err.errorType, 'TypeError')
  assert.match(err.errorMessage, /result of task 'bad-result' is not JSON: result\.when is a bigint/)
  await ex.close()
})

test('bad submit options are rejected', async () => {
  const ex = fresh()
  const cases = [
    [{ delayMs: -5 }, /`delayMs` must be a non-negative whole number, got -5/],
    [{ delayMs: 1.5 }, /delayMs/],
    [{ runAt: 'tomorrow' }, /`runAt` 'tomorrow' is not an ISO 8601 date/],
    [{ runAt: new Date('garbage') }, /invalid Date/],
    [{ runAt: {} }, /`runAt` must be a Date/],
    [{ delayMs: 5, runAt: new Date() }, /either `delayMs` or `runAt`/],
    [{ priority: 1.5 }, /`priority` must be a whole number/],
    [{ dealy: 5 }, /unknown field `dealy`/],
    [{ key: '' }, /`key` must be a non-empty string/],
    [{ priority: NaN }, /`priority` must be a finite number, got NaN/],
    [{ delayMs: Infinity }, /`delayMs` must be a finite number, got Infinity/],
    ['fast', /submit options must be an object/],
  ]
  for (const [options, message] of cases) {
    await assert.rejects(ex.submit('t', 1, options), message, JSON.stringify(options))
  }
  await assert.rejects(ex.submitMany('t', [1, 2], { key: 'k' }), /key.*single task/)
  await assert.rejects(ex.submitMany('t', 'nope'), /expects an array/)
  await ex.close()
})

test('bad executor and task options are rejected at construction and registration', async () => {
  const cases = [
    [{ concurrency: 0 }, /`concurrency` must be a whole number of at least 1, got 0/],
    [{ concurrency: -1 }, /concurrency/],
    [{ queues: [] }, /`queues` must name at least one queue/],
    [{ queues: ['bad name'] }, /queue name 'bad name' is not URL-safe/],
    [{ retry: { backoff: 'linear' } }, /`retry.backoff` must be 'fixed' or 'exponential', got 'linear'/],
    [{ store: 'postgres://x' }, /unsupported store 'postgres:\/\/x'/],
    [{ concurency: 4 }, /unknown field `concurency`/],
    [{ keepResults: { count: -1 } }, /keepResults.count/],
  ]
  for (const [options, message] of cases) {
    assert.throws(() => new Executor(options), message, JSON.stringify(options))
  }
  assert.throws(() => new Executor(null), /Executor options must be an object/)
  // p-queue's default concurrency is Infinity: here it is an error, not a silent default.
  assert.throws(() => new Executor({ concurrency: Infinity }), /`concurrency` must be a finite number, got Infinity/)
  assert.throws(() => new Executor({ retry: { delayMs: NaN } }), /`retry.delayMs` must be a finite number, got NaN/)
  const ex = new Executor()
  const taskCases = [
    [{ retry: { maxRetries: -1 } }, /retry.maxRetries/],
    [{ retry: { backoff: 'random' } }, /retry.backoff/],
    [{ retry: { delayMs: 100, maxDelayMs: 10 } }, /maxDelayMs/],
    [{ timeoutMs: 0 }, /`timeoutMs` must be a whole number of at least 1/],
    [{ maxParallel: 0 }, /maxParallel/],
    [{ queue: 'no spaces' }, /queue name/],
    [{ retries: 3 }, /unknown field `retries`/],
    [{ timeoutMs: NaN }, /`timeoutMs` must be a finite number, got NaN/],
    [{ rateLimit: { limit: Infinity } }, /`rateLimit.limit` must be a finite number/],
  ]
  for (const [options, message] of taskCases) {
    assert.throws(() => ex.register('x', () => 1, options), message, JSON.stringify(options))
  }
  assert.equal(ex.has('x'), false)
  await ex.close()
})

test('TASKLOOM_STORE picks the default store', () => {
  const before = process.env.TASKLOOM_STORE
  process.env.TASKLOOM_STORE = 'nosuch://store'
  try {
    assert.throws(() => new Executor(), /unsupported store 'nosuch:\/\/store'/)
    const ex = new Executor({ store: 'memory' })
    ex.close()
  } finally {
    if (before === undefined) delete process.env.TASKLOOM_STORE
    else process.env.TASKLOOM_STORE = before
  }
})

test('result({ timeoutMs }) rejects with TimeoutError when the task is not done in time', async () => {
  const ex = fresh()
  const t = await ex.submit('t', 1, { delayMs: 60_000 })
  const err = await t.result({ timeoutMs: 20 }).catch((e) => e)
  assert.ok(err instanceof TimeoutError)
  assert.equal(err.taskId, t.id)
  await assert.rejects(t.result({ timeoutMs: -1 }), /timeoutMs must be a non-negative number/)
  await ex.close()
})

test('unknown ids are reported as such', async () => {
  const ex = fresh()
  const missing = ex.task('01890a5d-ac96-774b-bcce-b302099a8057')
  await assert.rejects(missing.state(), TaskNotFoundError)
  await assert.rejects(missing.result(), /no task with id/)
  assert.throws(() => ex.task('not-an-id'), /is not a task id/)
  await ex.close()
})

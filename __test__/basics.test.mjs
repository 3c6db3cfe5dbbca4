// The core API the way a user calls it: register, submit, results, handles, registry.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { Executor, TaskHandle } from '../index.mjs'

const require = createRequire(import.meta.url)

test('ESM and CommonJS entries expose the same Executor', () => {
  const cjs = require('../index.js')
  assert.equal(cjs.Executor, Executor)
  assert.equal(typeof cjs.TaskFailedError, 'function')
})

test('submit → result, state and info', async () => {
  const ex = new Executor()
  ex.register('add', async ([x, y]) => x + y, { queue: 'math', tags: ['math'], description: 'Add two numbers' })
  const t = await ex.submit('add', [1, 2])
  assert.ok(t instanceof TaskHandle)
  assert.match(t.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v7')
  assert.equal(await t.result(), 3)
  assert.equal(await t.state(), 'SUCCESS')
  const info = await t.info()
  assert.equal(info.id, t.id)
  assert.equal(info.name, 'add')
  assert.equal(info.queue, 'math')
  assert.deepEqual(info.payload, [1, 2])
  assert.equal(info.result, 3)
  assert.equal(info.error, null)
  assert.equal(info.retries, 0)
  assert.equal(info.workerId, ex.workerId)
  assert.ok(info.createdAt instanceof Date && info.startedAt instanceof Date && info.completedAt instanceof Date)
  assert.ok(info.createdAt <= info.startedAt && info.startedAt <= info.completedAt)
  await ex.close()
})

test('sync handlers and structured results work', async () => {
  const ex = new Executor()
  ex.register('shape', (p) => ({ got: p, list: [1, 'two', null, { deep: true }] }))
  ex.register('nothing', () => undefined)
  assert.deepEqual(await (await ex.submit('shape', { a: 1 })).result(), { got: { a: 1 }, list: [1, 'two', null, { deep: true }] })
  assert.equal(await (await ex.submit('nothing')).result(), null, 'undefined becomes null')
  await ex.close()
})

test('submitMany enqueues a batch and returns handles in order', async () => {
  const ex = new Executor()
  ex.register('square', (n) => n * n)
  const handles = await ex.submitMany('square', [1, 2, 3, 4, 5])
  assert.equal(handles.length, 5)
  assert.equal(new Set(handles.map((h) => h.id)).size, 5)
  assert.deepEqual(await Promise.all(handles.map((h) => h.result())), [1, 4, 9, 16, 25])
  assert.deepEqual(await ex.submitMany('square', []), [])
  await ex.close()
})

test('run executes directly with no queue and returns the value', async () => {
  const ex = new Executor()
  let seenCtx
  ex.register('mul', ([a, b], ctx) => {
    seenCtx = ctx
    return a * b
  })
  assert.equal(await ex.run('mul', [6, 7]), 42)
  assert.equal(seenCtx.name, 'mul')
  assert.equal(seenCtx.attempt, 1)
  assert.equal(ex.running, 0)
  await ex.close()
})

test('task(id) gives a handle for an id obtained elsewhere', async () => {
  const ex = new Executor()
  ex.register('echo', (x) => x)
  const { id } = await ex.submit('echo', 'hi')
  await ex.onIdle()
  const again = ex.task(id)
  assert.equal(await again.result(), 'hi')
  assert.equal((await again.info()).payload, 'hi')
  await ex.close()
})

test('the registry lists tasks by tags, and answers has / info', async () => {
  const ex = new Executor()
  ex.register('add', (x) => x, { tags: ['math', 'fast'], description: 'Add', params: { x: 'number' } })
  ex.register('slow-add', (x) => x, { tags: ['math'] })
  ex.register('email', (x) => x, { tags: ['io'], queue: 'mail' })
  assert.deepEqual(ex.tasks().map((t) => t.name), ['add', 'slow-add', 'email'])
  assert.deepEqual(ex.tasks({ tags: ['math'] }).map((t) => t.name), ['add', 'slow-add'])
  assert.deepEqual(ex.tasks({ tags: ['math', 'fast'] }).map((t) => t.name), ['add'], 'all tags must match')
  assert.deepEqual(ex.tasks({ tags: ['nope'] }), [])
  assert.equal(ex.has('email'), true)
  assert.equal(ex.has('nope'), false)
  const info = ex.info('add')
  assert.equal(info.description, 'Add')
  assert.deepEqual(info.params, { type: 'object', properties: { x: { type: 'number' } }, required: ['x'], additionalProperties: false })
  assert.deepEqual(info.parameters, [{ name: 'x', annotation: 'number', default: null, required: true }])
  assert.equal(info.queue, 'default')
  assert.equal(ex.info('email').queue, 'mail')
  assert.equal(ex.info('nope'), undefined)
  await ex.close()
})

test('onIdle resolves once every submitted task has finished', async () => {
  const ex = new Executor({ concurrency: 2 })
  let done = 0
  ex.register('wait', async (ms) => {
    await new Promise((r) => setTimeout(r, ms))
    done++
  })
  await ex.submitMany('wait', [5, 10, 15, 5])
  await ex.submit('wait', 5, { delayMs: 30 })
  await ex.onIdle()
  assert.equal(done, 5)
  await ex.close()
})

test('idempotency keys return the first task instead of enqueuing twice', async () => {
  const ex = new Executor()
  let runs = 0
  ex.register('charge', () => ++runs)
  const a = await ex.submit('charge', { amount: 5 }, { key: 'order-1' })
  const b = await ex.submit('charge', { amount: 5 }, { key: 'order-1' })
  assert.equal(a.id, b.id)
  await ex.onIdle()
  assert.equal(runs, 1)
  await ex.close()
})

// The task control (ctx), events, and cancellation.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Executor, TaskCancelledError } from '../index.mjs'

test('ctx carries id, name, queue, attempt and a signal', async () => {
  const ex = new Executor()
  let seen
  ex.register('look', (_, ctx) => {
    seen = { id: ctx.id, name: ctx.name, queue: ctx.queue, attempt: ctx.attempt, aborted: ctx.signal.aborted, stop: ctx.shouldStop }
  }, { queue: 'q1' })
  const t = await ex.submit('look')
  await t.result()
  assert.deepEqual(seen, { id: t.id, name: 'look', queue: 'q1', attempt: 1, aborted: false, stop: false })
  await ex.close()
})

test('progress, status and logs show in info() and as events', async () => {
  const ex = new Executor()
  const events = { progress: [], status: [], log: [] }
  ex.on('progress', (e) => events.progress.push(e))
  ex.on('status', (e) => events.status.push(e))
  ex.on('log', (e) => events.log.push(e))
  ex.register('work', async (n, ctx) => {
    ctx.status('starting')
    for (let i = 1; i <= n; i++) {
      ctx.progress((i / n) * 100, `item ${i}/${n}`)
      await new Promise((r) => setImmediate(r))
    }
    ctx.log('all done')
    ctx.log('careful', 'warning')
    ctx.status('finished')
    return n
  })
  const t = await ex.submit('work', 4)
  await t.result()
  assert.deepEqual(events.progress.map((e) => e.percent), [25, 50, 75, 100])
  assert.deepEqual(events.progress[1], { id: t.id, name: 'work', percent: 50, message: 'item 2/4' })
  assert.deepEqual(events.status.map((e) => e.status), ['starting', 'finished'])
  assert.deepEqual(events.log.map((e) => [e.level, e.message]), [['info', 'all done'], ['warning', 'careful']])
  const info = await t.info()
  assert.equal(info.progress, 100)
  assert.equal(info.progressMessage, 'item 4/4')
  assert.equal(info.status, 'finished')
  assert.deepEqual(info.logs.map((l) => [l.level, l.message]), [['info', 'all done'], ['warning', 'careful']])
  assert.ok(info.logs[0].time instanceof Date)
  await ex.close()
})

test('ctx controls reject bad values', async () => {
  const ex = new Executor()
  const errors = []
  ex.register('bad', (_, ctx) => {
    for (const f of [() => ctx.progress(101), () => ctx.progress(NaN), () => ctx.log('x', 'loud')]) {
      try {
        f()
      } catch (e) {
        errors.push(e.message)
      }
    }
  })
  await (await ex.submit('bad')).result()
  assert.equal(errors.length, 3)
  assert.match(errors[0], /progress must be a number from 0 to 100, got 101/)
  assert.match(errors[2], /log level/)
  await ex.close()
})

test('state events follow every transition', async () => {
  const ex = new Executor()
  const seen = []
  ex.on('state', (e) => seen.push(e.state))
  ex.register('s', () => 1)
  const t = await ex.submit('s')
  await t.result()
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(seen, ['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS'])
  await ex.close()
})

test('cancel() on a pending task revokes it without running it', async () => {
  const ex = new Executor({ concurrency: 1 })
  let ran = false
  ex.register('block', () => new Promise((r) => setTimeout(r, 30)))
  ex.register('victim', () => {
    ran = true
  })
  await ex.submit('block')
  const t = await ex.submit('victim')
  assert.equal(await t.cancel(), true)
  assert.equal(await t.state(), 'REVOKED')
  await assert.rejects(t.result(), TaskCancelledError)
  await ex.onIdle()
  assert.equal(ran, false)
  assert.equal(await t.cancel(), false, 'already finished')
  await ex.close()
})

test('cancel() on a delayed task revokes it', async () => {
  const ex = new Executor()
  ex.register('later', () => 1)
  const t = await ex.submit('later', null, { delayMs: 10_000 })
  const pending = t.result()
  await t.cancel()
  await assert.rejects(pending, TaskCancelledError)
  await ex.close()
})

test('cancel() on a running task aborts its signal; it is REVOKED when the handler returns', async () => {
  const ex = new Executor()
  let abortReason
  const started = new Promise((resolve) => {
    ex.register('long', async (_, ctx) => {
      resolve()
      await new Promise((r) => ctx.signal.addEventListener('abort', r))
      abortReason = ctx.signal.reason
      assert.equal(ctx.shouldStop, true)
      await new Promise((r) => setTimeout(r, 10))
      return 'finished anyway'
    }, { retry: { maxRetries: 3, delayMs: 1 } })
  })
  const t = await ex.submit('long')
  const result = t.result()
  await started
  assert.equal(await t.state(), 'STARTED')
  assert.equal(await t.cancel(), true)
  assert.equal(await t.state(), 'STARTED', 'still running until the handler returns')
  const err = await result.catch((e) => e)
  assert.ok(err instanceof TaskCancelledError)
  assert.ok(abortReason instanceof TaskCancelledError)
  assert.equal(await t.state(), 'REVOKED')
  await ex.close()
})

test('a cancelled handler that throws is REVOKED, not retried', async () => {
  const ex = new Executor()
  let runs = 0
  let go
  const started = new Promise((r) => (go = r))
  ex.register('abortable', async (_, ctx) => {
    runs++
    go()
    await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
  }, { retry: { maxRetries: 3, delayMs: 1 } })
  const t = await ex.submit('abortable')
  await started
  await t.cancel()
  await assert.rejects(t.result(), TaskCancelledError)
  await ex.onIdle()
  assert.equal(runs, 1)
  await ex.close()
})

test('events are EventEmitter events', async () => {
  const ex = new Executor()
  ex.register('p', (_, ctx) => ctx.progress(10))
  const ev = once(ex, 'progress')
  await ex.submit('p')
  const [e] = await ev
  assert.equal(e.percent, 10)
  await ex.close()
})

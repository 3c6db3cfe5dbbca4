// Retries, backoff, non-retryable errors, timeouts, and the error a failure leaves.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor, TaskFailedError, NonRetryableError, TaskTimeoutError } from '../index.mjs'

test('a failing task is retried until it succeeds; retries are counted', async () => {
  const ex = new Executor()
  const attempts = []
  ex.register(
    'flaky',
    (_, ctx) => {
      attempts.push(ctx.attempt)
      if (ctx.attempt < 3) throw new Error(`fail #${ctx.attempt}`)
      return 'ok'
    },
    { retry: { maxRetries: 5, backoff: 'fixed', delayMs: 10 } },
  )
  const t = await ex.submit('flaky')
  assert.equal(await t.result(), 'ok')
  assert.deepEqual(attempts, [1, 2, 3])
  const info = await t.info()
  assert.equal(info.retries, 2)
  assert.equal(info.attempt, 3)
  assert.equal(info.error.message, 'fail #2', 'the last error stays visible')
  await ex.close()
})

test('after its retries a task fails with the handler error type, message and stack', async () => {
  const ex = new Executor()
  class PaymentDeclined extends Error {
    name = 'PaymentDeclined'
  }
  ex.register('pay', () => {
    throw new PaymentDeclined('card expired')
  }, { retry: { maxRetries: 2, delayMs: 1 } })
  const t = await ex.submit('pay')
  const err = await t.result().then(() => assert.fail('should reject'), (e) => e)
  assert.ok(err instanceof TaskFailedError)
  assert.equal(err.errorType, 'PaymentDeclined')
  assert.equal(err.errorMessage, 'card expired')
  assert.match(err.errorStack, /PaymentDeclined: card expired\n\s+at /)
  assert.equal(err.retries, 2)
  assert.equal(err.taskId, t.id)
  const info = await t.info()
  assert.equal(info.state, 'FAILURE')
  assert.deepEqual([info.error.type, info.error.message], ['PaymentDeclined', 'card expired'])
  assert.equal(info.retries, 2)
  await ex.close()
})

test('exponential backoff waits delayMs, then twice that', async () => {
  const ex = new Executor()
  const at = []
  ex.register('slowly', () => {
    at.push(Date.now())
    throw new Error('again')
  }, { retry: { maxRetries: 2, backoff: 'exponential', delayMs: 40 } })
  const t = await ex.submit('slowly')
  await t.result().catch(() => {})
  assert.equal(at.length, 3)
  assert.ok(at[1] - at[0] >= 40, `first retry after ${at[1] - at[0]} ms`)
  assert.ok(at[2] - at[1] >= 80, `second retry after ${at[2] - at[1]} ms`)
  await ex.close()
})

test('maxDelayMs caps the backoff and jitter keeps delays within [delay/2, delay]', async () => {
  const ex = new Executor()
  const at = []
  ex.register('capped', () => {
    at.push(Date.now())
    throw new Error('x')
  }, { retry: { maxRetries: 3, backoff: 'exponential', delayMs: 30, maxDelayMs: 30, jitter: true } })
  await (await ex.submit('capped')).result().catch(() => {})
  assert.equal(at.length, 4)
  for (let i = 1; i < at.length; i++) {
    const gap = at[i] - at[i - 1]
    assert.ok(gap >= 14, `gap ${gap} ms is at least half the capped delay`)
  }
  const info = ex.info('capped')
  assert.deepEqual(info.retry, { maxRetries: 3, backoff: 'exponential', delayMs: 30, maxDelayMs: 30, jitter: true })
  await ex.close()
})

test('the executor retry policy is the default, and a task overrides it field by field', async () => {
  const ex = new Executor({ retry: { maxRetries: 4, backoff: 'fixed', delayMs: 1 } })
  ex.register('inherits', () => 1)
  ex.register('overrides', () => 1, { retry: { maxRetries: 1 } })
  assert.equal(ex.info('inherits').retry.maxRetries, 4)
  assert.deepEqual(ex.info('overrides').retry, { maxRetries: 1, backoff: 'fixed', delayMs: 1, maxDelayMs: 3600000, jitter: false })
  await ex.close()
})

test('NonRetryableError skips the remaining retries', async () => {
  const ex = new Executor()
  let runs = 0
  ex.register('validate', () => {
    runs++
    throw new NonRetryableError('bad input')
  }, { retry: { maxRetries: 5, delayMs: 1 } })
  const err = await (await ex.submit('validate')).result().catch((e) => e)
  assert.equal(runs, 1)
  assert.equal(err.errorType, 'NonRetryableError')
  assert.equal(err.retries, 0)
  await ex.close()
})

test('thrown non-Error values are recorded with their type', async () => {
  const ex = new Executor()
  ex.register('str', () => {
    throw 'plain string'
  })
  ex.register('obj', async () => {
    throw { code: 42 }
  })
  const s = await (await ex.submit('str')).result().catch((e) => e)
  assert.deepEqual([s.errorType, s.errorMessage, s.errorStack], ['string', 'plain string', null])
  const o = await (await ex.submit('obj')).result().catch((e) => e)
  assert.equal(o.errorType, 'Object')
  assert.equal(o.errorMessage, '{"code":42}')
  await ex.close()
})

test('timeoutMs aborts ctx.signal, records a timeout failure and retries', async () => {
  const ex = new Executor()
  const reasons = []
  ex.register('hang', async (_, ctx) => {
    if (ctx.attempt === 2) return 'second try'
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    reasons.push(ctx.signal.reason)
    assert.equal(ctx.shouldStop, true)
    throw ctx.signal.reason
  }, { timeoutMs: 30, retry: { maxRetries: 1, delayMs: 1 } })
  const t = await ex.submit('hang')
  assert.equal(await t.result(), 'second try')
  assert.equal(reasons.length, 1)
  assert.ok(reasons[0] instanceof TaskTimeoutError)
  const info = await t.info()
  assert.equal(info.retries, 1)
  assert.equal(info.error.type, 'TaskTimeoutError')
  assert.equal(info.error.timeout, true)
  await ex.close()
})

test('a handler that ignores its timeout fails with TaskTimeoutError and frees its slot', async () => {
  const ex = new Executor({ concurrency: 1 })
  ex.register('stubborn', () => new Promise((r) => setTimeout(() => r('too late'), 200)), { timeoutMs: 20 })
  ex.register('next', () => 'ran')
  const slow = await ex.submit('stubborn')
  const next = await ex.submit('next')
  const err = await slow.result().catch((e) => e)
  assert.equal(err.errorType, 'TaskTimeoutError')
  const value = await next.result({ timeoutMs: 2000 })
  assert.equal(value, 'ran')
  assert.ok((await next.info()).startedAt < (await slow.info()).createdAt.getTime() + 200, 'the slot was freed at the timeout, not when the handler ended')
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(await slow.state(), 'FAILURE', 'the late return changes nothing')
  await ex.close()
})

test('run() applies the same retry policy and timeout', async () => {
  const ex = new Executor()
  let calls = 0
  ex.register('direct', () => {
    calls++
    if (calls < 2) throw new Error('once')
    return 'fine'
  }, { retry: { maxRetries: 1, delayMs: 1 } })
  assert.equal(await ex.run('direct'), 'fine')
  assert.equal(calls, 2)
  ex.register('slow', () => new Promise((r) => setTimeout(r, 100)), { timeoutMs: 10 })
  const err = await ex.run('slow').catch((e) => e)
  assert.ok(err instanceof TaskFailedError)
  assert.equal(err.errorType, 'TaskTimeoutError')
  await ex.close()
})

test('an executor-wide timeoutMs applies to tasks without their own', async () => {
  const ex = new Executor({ timeoutMs: 15 })
  ex.register('slow', () => new Promise((r) => setTimeout(r, 100)))
  assert.equal(ex.info('slow').timeoutMs, 15)
  const err = await (await ex.submit('slow')).result().catch((e) => e)
  assert.equal(err.errorType, 'TaskTimeoutError')
  await ex.close()
})

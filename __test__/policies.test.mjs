// Rate limits and circuit breakers, the way a user configures and observes them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor, CircuitOpenError, TaskFailedError } from '../index.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test('a task rate limit spaces starts, drops nothing, keeps order and attempts', async () => {
  const ex = new Executor({ concurrency: 50 })
  const starts = []
  ex.register('ping', (n, ctx) => {
    starts.push({ n, at: Date.now(), attempt: ctx.attempt })
  }, { rateLimit: { limit: 10, intervalMs: 200, burst: 1 } }) // one start every 20 ms
  const limited = []
  ex.on('rateLimited', (e) => limited.push(e))
  await ex.submitMany('ping', Array.from({ length: 15 }, (_, i) => i))
  await ex.onIdle()
  assert.deepEqual(starts.map((s) => s.n), Array.from({ length: 15 }, (_, i) => i), 'every task, in order')
  assert.ok(starts.every((s) => s.attempt === 1), 'waiting used no attempt')
  for (let i = 1; i < starts.length; i++) {
    assert.ok(starts[i].at - starts[i - 1].at >= 15, `start ${i} came ${starts[i].at - starts[i - 1].at} ms after the one before`)
  }
  assert.ok(limited.length > 0)
  assert.equal(limited[0].scope, 'task')
  assert.equal(limited[0].name, 'ping')
  assert.ok(limited[0].until instanceof Date)
  await ex.close()
})

test('a waiting task says so in its status', async () => {
  const ex = new Executor()
  ex.register('slow-api', () => 1, { rateLimit: { limit: 1, intervalMs: 60_000 } })
  const [first, second] = await ex.submitMany('slow-api', [1, 2])
  await first.result()
  const info = await second.info()
  assert.equal(info.state, 'PENDING')
  assert.match(info.status, /^waiting: rate limit of task 'slow-api'/)
  await ex.close({ timeoutMs: 10 })
})

test('queue and executor rate limits hold across tasks', async () => {
  const ex = new Executor({
    rateLimit: { limit: 4, intervalMs: 60_000, burst: 4 },
    queueRateLimits: { mail: { limit: 2, intervalMs: 60_000, burst: 2 } },
  })
  const ran = []
  ex.register('welcome', (n) => ran.push(`welcome${n}`), { queue: 'mail' })
  ex.register('digest', (n) => ran.push(`digest${n}`), { queue: 'mail' })
  ex.register('resize', (n) => ran.push(`resize${n}`), { queue: 'images' })
  const seen = []
  ex.on('rateLimited', (e) => seen.push(`${e.scope}:${e.name}`))
  await ex.submitMany('welcome', [1, 2])
  await ex.submitMany('digest', [1, 2])
  await ex.submitMany('resize', [1, 2, 3])
  await sleep(30)
  assert.equal(ran.filter((r) => !r.startsWith('resize')).length, 2, 'the mail queue limit')
  assert.equal(ran.length, 4, 'the executor limit')
  assert.ok(seen.includes('queue:mail'))
  assert.ok(seen.includes('executor:null'))
  await ex.close({ timeoutMs: 10 })
})

test('a breaker opens after consecutive failures, holds tasks, half-opens and closes', async () => {
  const ex = new Executor({ concurrency: 1 })
  let healthy = false
  let calls = 0
  ex.register('api', () => {
    calls++
    if (!healthy) throw new Error('503 Service Unavailable')
    return 'ok'
  }, { circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 80 } })
  const transitions = []
  ex.on('breaker', (e) => transitions.push(`${e.from}->${e.to}`))
  const [a, b, c] = await ex.submitMany('api', [1, 2, 3])
  await assert.rejects(a.result(), TaskFailedError)
  await assert.rejects(b.result(), TaskFailedError)
  assert.deepEqual(transitions, ['closed->open'])
  const open = ex.breaker('api')
  assert.equal(open.state, 'open')
  assert.equal(open.failures, 2)
  assert.ok(open.openedAt instanceof Date && open.nextTryAt instanceof Date)
  assert.equal(open.nextTryAt - open.openedAt, 80)
  const waiting = await c.info()
  assert.equal(waiting.attempt, 0)
  assert.deepEqual(waiting.breaker, { state: 'open', failures: 2 })
  assert.match(waiting.status, /circuit breaker of task 'api' is open/)
  const callsWhileOpen = calls
  healthy = true
  assert.equal(await c.result(), 'ok', 'the waiting task ran as the half-open trial')
  assert.equal(calls, callsWhileOpen + 1)
  assert.deepEqual(transitions, ['closed->open', 'open->halfOpen', 'halfOpen->closed'])
  assert.equal(ex.breaker('api').state, 'closed')
  await ex.close()
})

test('an open breaker half-opens at its reset time with nothing waiting, and says so', async () => {
  const ex = new Executor({ concurrency: 1 })
  ex.register('api', () => {
    throw new Error('503 Service Unavailable')
  }, { circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 100 } })
  const transitions = []
  ex.on('breaker', (e) => transitions.push(`${e.from}->${e.to}`))
  await assert.rejects((await ex.submit('api')).result(), TaskFailedError)
  assert.equal(ex.breaker('api').state, 'open')
  const { nextTryAt } = ex.breaker('api')
  // Nothing is submitted or read: the event comes by itself once the reset time passes.
  const deadline = Date.now() + 5_000
  while (transitions.length < 2 && Date.now() < deadline) await sleep(10)
  assert.deepEqual(transitions, ['closed->open', 'open->halfOpen'])
  assert.ok(Date.now() >= nextTryAt.getTime(), 'not before its time')
  const b = ex.breaker('api')
  assert.equal(b.state, 'halfOpen')
  assert.equal(b.nextTryAt, null)
  const m = await ex.metrics()
  assert.equal(m.tasks.api.breaker, 'halfOpen')
  await ex.close()
})

test('onOpen: fail refuses tasks at once with CircuitOpenError, without retries', async () => {
  const ex = new Executor({ concurrency: 1 })
  let calls = 0
  ex.register('api', () => {
    calls++
    throw new Error('down')
  }, { retry: { maxRetries: 3, delayMs: 1 }, circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 10_000, onOpen: 'fail' } })
  const first = await ex.submit('api')
  const firstErr = await first.result().catch((e) => e)
  assert.ok(firstErr instanceof CircuitOpenError, 'its retry came due while open and was refused')
  assert.equal(calls, 1, 'the breaker opened at the first failure; no retry ran')
  const refused = await ex.submit('api')
  const err = await refused.result().catch((e) => e)
  assert.ok(err instanceof CircuitOpenError)
  assert.ok(err instanceof TaskFailedError, 'CircuitOpenError is a TaskFailedError')
  assert.equal(err.errorType, 'CircuitOpenError')
  assert.equal((await refused.info()).attempt, 0)
  assert.equal(ex.breaker('api').rejected, 2, 'the retry and the new task')
  await assert.rejects(ex.run('api'), CircuitOpenError)
  assert.equal(calls, 1)
  await ex.close()
})

test('isFailure decides which errors count; timeouts count by default', async () => {
  const ex = new Executor()
  class ValidationError extends Error {
    name = 'ValidationError'
  }
  ex.register('strict', (kind) => {
    if (kind === 'invalid') throw new ValidationError('bad input')
    throw new Error('boom')
  }, { circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 10_000, isFailure: (e) => !(e instanceof ValidationError) } })
  for (let i = 0; i < 3; i++) await (await ex.submit('strict', 'invalid')).result().catch(() => {})
  assert.equal(ex.breaker('strict').state, 'closed', 'validation errors do not count')
  ex.register('hangs', () => sleep(200), { timeoutMs: 10, circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 10_000 } })
  await (await ex.submit('hangs')).result().catch(() => {})
  assert.equal(ex.breaker('hangs').state, 'open', 'a timeout counts')
  assert.throws(() => ex.register('x', () => 1, { circuitBreaker: { isFailure: 'nope' } }), /isFailure.*must be a function/)
  await ex.close({ timeoutMs: 10 })
})

test('a cancelled run neither opens nor closes the breaker', async () => {
  const ex = new Executor()
  let started
  const running = new Promise((r) => (started = r))
  ex.register('long', async (_, ctx) => {
    started()
    await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
  }, { circuitBreaker: { failureThreshold: 1 } })
  const t = await ex.submit('long')
  await running
  await t.cancel()
  await t.result().catch(() => {})
  assert.equal(ex.breaker('long').state, 'closed')
  await ex.close()
})

test('run() waits for the rate limit like queued tasks do', async () => {
  const ex = new Executor()
  ex.register('tick', () => Date.now(), { rateLimit: { limit: 1, intervalMs: 50, burst: 1 } })
  const a = await ex.run('tick')
  const b = await ex.run('tick')
  assert.ok(b - a >= 45, `second direct run started ${b - a} ms after the first`)
  await ex.close()
})

test('policy options show in the registry', async () => {
  const ex = new Executor()
  ex.register('api', () => 1, {
    rateLimit: { limit: 100, intervalMs: 1000 },
    circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 500, maxResetTimeoutMs: 4000, halfOpenTrials: 2, onOpen: 'fail' },
  })
  const info = ex.info('api')
  assert.deepEqual(info.rateLimit, { limit: 100, intervalMs: 1000, burst: 5 }, 'burst: 50 ms worth by default')
  assert.deepEqual(info.circuitBreaker, {
    failureThreshold: 3, failureRate: null, resetTimeoutMs: 500, maxResetTimeoutMs: 4000, halfOpenTrials: 2, onOpen: 'fail',
  })
  await ex.close()
})

test('bad policy options are rejected at registration and construction', async () => {
  const ex = new Executor()
  const cases = [
    [{ rateLimit: { limit: 0 } }, /`rateLimit.limit` must be a whole number of at least 1, got 0/],
    [{ rateLimit: { limit: 5, intervalMs: -1 } }, /rateLimit.intervalMs/],
    [{ rateLimit: { limit: 5, intervalMs: 0 } }, /rateLimit.intervalMs/],
    [{ circuitBreaker: { failureThreshold: 0 } }, /circuitBreaker.failureThreshold/],
    [{ circuitBreaker: { resetTimeoutMs: 0 } }, /circuitBreaker.resetTimeoutMs/],
    [{ circuitBreaker: { onOpen: 'explode' } }, /`circuitBreaker.onOpen` must be 'wait' or 'fail', got 'explode'/],
    [{ circuitBreaker: { failureRate: { threshold: 2, windowMs: 1000 } } }, /failureRate.threshold/],
  ]
  for (const [options, message] of cases) {
    assert.throws(() => ex.register('t', () => 1, options), message, JSON.stringify(options))
  }
  assert.throws(() => new Executor({ rateLimit: { limit: 0 } }), /rateLimit.limit/)
  assert.throws(() => new Executor({ queueRateLimits: { mail: { limit: 1, intervalMs: 0 } } }), /queueRateLimits.mail.intervalMs/)
  await ex.close()
})

test('a failure-rate breaker opens once a window of mostly failures has passed', async () => {
  const ex = new Executor()
  ex.register('shaky', () => {
    throw new Error('still failing')
  }, { circuitBreaker: { failureRate: { threshold: 0.5, windowMs: 1000, minRequests: 5 }, resetTimeoutMs: 60_000 } })
  assert.equal(ex.info('shaky').circuitBreaker.failureThreshold, null, 'only the rate policy')
  const opened = new Promise((resolve) => ex.on('breaker', (e) => e.to === 'open' && resolve(Date.now())))
  const started = Date.now()
  let runs = 0
  while (ex.breaker('shaky').state === 'closed' && Date.now() - started < 3000) {
    await (await ex.submit('shaky')).result().catch(() => {})
    runs++
    await sleep(100)
  }
  const at = await opened
  assert.ok(at - started >= 900, `not before a whole window had passed (${at - started} ms)`)
  assert.ok(runs >= 5)
  assert.equal(ex.breaker('shaky').state, 'open')
  await ex.close()
})

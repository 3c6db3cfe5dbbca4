// Bad input gets a clear error naming the problem, at the call that caused it, and
// changes nothing: unknown option keys, dates that do not exist, reserved names, and
// controls given the wrong type.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor } from '../index.mjs'

test('result() and close() refuse unknown options instead of ignoring them', async () => {
  const ex = new Executor()
  ex.register('x', () => 1)
  const t = await ex.submit('x')
  await assert.rejects(t.result({ timeout: 10 }), { name: 'TypeError', message: "unknown result() option 'timeout' (expected timeoutMs)" })
  assert.equal(await t.result({ timeoutMs: 1000 }), 1)
  assert.throws(() => ex.close({ timeout: 10 }), { name: 'TypeError', message: "unknown close() option 'timeout' (expected timeoutMs)" })
  assert.throws(() => ex.tasks({ tag: ['a'] }), /unknown tasks\(\) option 'tag'/)
  await ex.close({ timeoutMs: 100 })
})

test('runAt must be a date that exists', async () => {
  const ex = new Executor()
  ex.register('x', () => 1)
  for (const bad of ['2026-02-30', '2026-02-29', '2026-13-01', '2026-04-31T10:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T10:60:00Z']) {
    await assert.rejects(ex.submit('x', null, { runAt: bad }), { name: 'TypeError', message: `\`runAt\` '${bad}' is not a valid date` }, bad)
  }
  const leap = await ex.submit('x', null, { runAt: '2028-02-29T12:00:00Z' })
  assert.equal((await leap.info()).runAt.toISOString(), '2028-02-29T12:00:00.000Z')
  assert.equal((await ex.counts()).total.PENDING, 1, 'only the valid submit was stored')
  await leap.cancel()
  await ex.close()
})

test('the workflow coordinator’s name is reserved: it cannot be submitted, run or scheduled directly', async () => {
  const ex = new Executor()
  const reserved = { name: 'TypeError', code: 'ERR_RESERVED_TASK', message: /reserved for workflows/ }
  await assert.rejects(ex.submit('taskloom-workflow', 1), reserved)
  await assert.rejects(ex.submitMany('taskloom-workflow', [1]), reserved)
  await assert.rejects(ex.run('taskloom-workflow', 1), reserved)
  await assert.rejects(ex.schedule('taskloom-workflow', '* * * * *', 1), reserved)
  assert.throws(() => ex.register('taskloom-workflow', () => 1), /reserved for workflows/)
  assert.equal((await ex.counts()).total.PENDING ?? 0, 0)
  await ex.close()
})

test('ctx controls say what they got when given the wrong type', async () => {
  const ex = new Executor()
  const seen = {}
  ex.register('controls', (_, ctx) => {
    const attempt = (name, fn) => {
      try {
        fn()
        seen[name] = 'accepted'
      } catch (err) {
        seen[name] = `${err.name}: ${err.message}`
      }
    }
    attempt('progressString', () => ctx.progress('50'))
    attempt('progressRange', () => ctx.progress(150))
    attempt('progressMessage', () => ctx.progress(50, { step: 1 }))
    attempt('logObject', () => ctx.log({ a: 1 }))
    attempt('logLevel', () => ctx.log('hi', 'loud'))
    attempt('statusNumber', () => ctx.status(42))
    attempt('fine', () => {
      ctx.progress(50, 'half')
      ctx.log('hi', 'warn')
      ctx.status('ok')
    })
    return null
  })
  const t = await ex.submit('controls')
  await t.result()
  assert.equal(seen.progressString, "TypeError: progress must be a number from 0 to 100, got the string \"50\"")
  assert.equal(seen.progressRange, 'RangeError: progress must be a number from 0 to 100, got 150')
  assert.match(seen.progressMessage, /^TypeError: a progress message must be a string, got an object \(Object\)/)
  assert.match(seen.logObject, /^TypeError: a log message must be a string, got an object \(Object\)/)
  assert.equal(seen.logLevel, "TypeError: log level must be 'debug', 'info', 'warning' or 'error', got the string \"loud\"")
  assert.match(seen.statusNumber, /^TypeError: a status must be a string, got the number 42/)
  assert.equal(seen.fine, 'accepted')
  const info = await t.info()
  assert.deepEqual(info.logs.map((l) => [l.level, l.message]), [['warning', 'hi']], 'nothing refused was stored')
  assert.equal(info.status, 'ok')
  await ex.close()
})

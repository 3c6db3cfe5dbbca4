// Metrics: what ran is what is counted (successes, failures, retries, timeouts,
// cancellations, rate-limited waits, breaker transitions, histograms), per task and per
// queue, beside the store's depth; the Prometheus text passes `promtool check metrics`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { Executor, sig, chain } from '../index.mjs'
import { suiteStore } from './support/suite-store.mjs'

test('metrics() counts what ran: outcomes, retries, timeouts, cancels, rate limits, breakers', async () => {
  const ex = new Executor({ concurrency: 8 })
  let flakyCalls = 0
  ex.register('add', ([a, b]) => a + b, { queue: 'math' })
  ex.register('flaky', () => {
    if (flakyCalls++ === 0) throw new Error('first time fails')
    return 'ok'
  }, { retry: { maxRetries: 2, delayMs: 0 } })
  ex.register('slow', (_, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))), {
    timeoutMs: 20,
  })
  ex.register('broken', () => {
    throw new Error('down')
  }, { circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000, onOpen: 'fail' } })
  ex.register('limited', () => 1, { rateLimit: { limit: 1, intervalMs: 50, burst: 1 } })
  ex.register('later', () => 1)

  await Promise.all((await ex.submitMany('add', [[1, 2], [3, 4], [5, 6]])).map((h) => h.result()))
  assert.equal(await (await ex.submit('flaky', null)).result(), 'ok')
  await assert.rejects((await ex.submit('slow', null)).result())
  for (let i = 0; i < 3; i++) await (await ex.submit('broken', null)).result().catch(() => {})
  await Promise.all((await ex.submitMany('limited', [1, 2, 3])).map((h) => h.result()))
  const waiting = await ex.submit('later', null, { delayMs: 60_000 })
  assert.equal(await waiting.cancel(), true)
  await ex.submit(chain(sig('add', [1, 1]), sig('add', [2]))).then((h) => h.result())

  const m = await ex.metrics()
  assert.deepEqual(Object.keys(m.tasks).sort(), ['add', 'broken', 'flaky', 'later', 'limited', 'slow'], 'no internal task')
  const pick = (t) => [t.completed, t.failed, t.retried, t.cancelled, t.timedOut]
  assert.deepEqual(pick(m.tasks.add), [5, 0, 0, 0, 0], 'three plus the two chain steps')
  assert.deepEqual(pick(m.tasks.flaky), [1, 0, 1, 0, 0])
  assert.deepEqual(pick(m.tasks.slow), [0, 1, 0, 0, 1])
  // Two failures open the breaker; the third is refused without running.
  assert.deepEqual(pick(m.tasks.broken), [0, 3, 0, 0, 0])
  assert.equal(m.tasks.broken.breaker, 'open')
  assert.equal(m.tasks.broken.breakerTransitions, 1)
  assert.equal(m.tasks.broken.runSeconds.count, 2, 'the refused one never ran')
  // Redis also holds rate limits itself, for every worker at once: those holds are not
  // this process's to count (the wait histogram below shows them).
  if (suiteStore !== 'redis') assert.ok(m.tasks.limited.rateLimited >= 2, `held back at least twice (${m.tasks.limited.rateLimited})`)
  assert.ok(m.tasks.limited.waitSeconds.sum >= 0.08, `the limited tasks waited ~100 ms in all (${m.tasks.limited.waitSeconds.sum})`)
  assert.deepEqual(pick(m.tasks.later), [0, 0, 0, 1, 0])
  assert.equal(m.tasks.flaky.runSeconds.count, 2, 'two runs')
  assert.equal(m.tasks.slow.runSeconds.count, 1)
  assert.ok(m.tasks.slow.runSeconds.sum >= 0.015, 'the timed-out run took about its timeout')
  assert.ok(m.tasks.slow.runSeconds.p50 > 0.01 && m.tasks.slow.runSeconds.p50 <= 0.05, `p50 ${m.tasks.slow.runSeconds.p50}`)
  // Per queue: counters summed, depth from the store.
  assert.equal(m.queues.math.completed, 5)
  assert.equal(m.queues.math.depth.SUCCESS, 5)
  assert.equal(m.queues.default.failed, 4)
  assert.equal(m.queues.default.depth.REVOKED, 1)
  assert.equal(m.queues['taskloom-workflow'], undefined)
  await ex.close()
})

test('metricsText() is valid Prometheus text (promtool check metrics) and says what metrics() says', async () => {
  const ex = new Executor()
  ex.register('fine', () => 1, { queue: 'jobs', circuitBreaker: { failureThreshold: 5 } })
  ex.register('boom', () => {
    throw new Error('x')
  })
  await (await ex.submit('fine', null)).result()
  await (await ex.submit('boom', null)).result().catch(() => {})
  const text = await ex.metricsText()
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  assert.equal(check.error, undefined, 'promtool runs (Debian package prometheus)')
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`)
  assert.equal(check.stdout + check.stderr, '', 'no lint findings')
  assert.match(text, /^taskloom_tasks_completed_total\{task="fine",queue="jobs"\} 1$/m)
  assert.match(text, /^taskloom_tasks_failed_total\{task="boom",queue="default"\} 1$/m)
  assert.match(text, /^taskloom_task_run_seconds_bucket\{task="boom",queue="default",le="\+Inf"\} 1$/m)
  assert.match(text, /^taskloom_task_run_seconds_count\{task="boom",queue="default"\} 1$/m)
  assert.match(text, /^taskloom_breaker_state\{task="fine",queue="jobs",state="closed"\} 1$/m)
  assert.match(text, /^taskloom_queue_tasks\{queue="default",state="failure"\} 1$/m)
  // Buckets are cumulative and end at the count.
  const buckets = [...text.matchAll(/^taskloom_task_wait_seconds_bucket\{task="boom",queue="default",le="[^"]+"\} (\d+)$/gm)].map((x) => Number(x[1]))
  assert.equal(buckets.length, 15)
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i] >= buckets[i - 1])
  assert.equal(buckets.at(-1), 1)
  await ex.close()
})

test('prometheusCollectors() registered in a prom-client registry serve what metricsText() says, merged with the app\'s own metrics', async () => {
  const client = (await import('prom-client')).default
  const ex = new Executor()
  ex.register('fine', () => 1, { queue: 'jobs' })
  await (await ex.submit('fine', null)).result()
  const registry = new client.Registry()
  new client.Counter({ name: 'app_requests_total', help: 'The app\'s own.', registers: [registry] }).inc(3)
  assert.equal(ex.registerPrometheus(registry).length, 12)
  const text = await registry.metrics()
  assert.match(text, /^app_requests_total 3$/m)
  assert.match(text, /^taskloom_tasks_completed_total\{task="fine",queue="jobs"\} 1$/m)
  assert.match(text, /^taskloom_task_run_seconds_bucket\{task="fine",queue="jobs",le="\+Inf"\} 1$/m)
  assert.match(text, /^taskloom_queue_tasks\{queue="jobs",state="success"\} 1$/m)
  // Each taskloom family appears as metricsText() renders it.
  const ours = await ex.metricsText()
  for (const line of ours.split('\n').filter((l) => l.startsWith('taskloom_tasks_completed_total'))) assert.ok(text.includes(line), line)
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`)
  // A scrape later sees new counts.
  await (await ex.submit('fine', null)).result()
  assert.match(await registry.metrics(), /^taskloom_tasks_completed_total\{task="fine",queue="jobs"\} 2$/m)
  // JSON too (prom-client's getMetricsAsJSON), and a registry reset leaves the engine's counts.
  const json = await registry.getMetricsAsJSON()
  assert.equal(json.find((f) => f.name === 'taskloom_tasks_completed_total').values[0].value, 2)
  registry.resetMetrics()
  assert.match(await registry.metrics(), /^taskloom_tasks_completed_total\{task="fine",queue="jobs"\} 2$/m)
  // Registered twice: prom-client refuses, naming the metric.
  assert.throws(() => { for (const m of ex.prometheusCollectors()) registry.registerMetric(m) }, /taskloom_tasks_completed_total/)
  assert.throws(() => ex.registerPrometheus({}), /expects a prom-client Registry/)
  await ex.close()
})

test('metrics: false counts nothing (depth still comes from the store); a non-boolean is refused', async () => {
  const ex = new Executor({ metrics: false })
  ex.register('t', () => 1)
  await (await ex.submit('t', null)).result()
  const m = await ex.metrics()
  assert.equal(m.tasks.t.completed, 0)
  assert.equal(m.tasks.t.runSeconds.count, 0)
  assert.equal(m.tasks.t.runSeconds.p50, null)
  assert.equal(m.queues.default.depth.SUCCESS, 1)
  await ex.close()
  assert.throws(() => new Executor({ metrics: 'no' }), /metrics/)
})

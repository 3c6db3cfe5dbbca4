// OpenTelemetry tracing (the optional peer dependency @opentelemetry/api): each run is a
// span `taskloom.run <name>` under the span active at submit, also when the task runs in
// another process (the traceparent travels in the store); a span tree checked with the
// in-memory exporter of @opentelemetry/sdk-trace-base.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import api from '@opentelemetry/api'
import { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { Executor } from '../index.mjs'
import { placesForThisFile, storeOptions } from './support/places.mjs'
import { until, spawnNode } from './support/processes.mjs'

const exporter = new InMemorySpanExporter()
api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
after(() => api.trace.disable())

const tracer = api.trace.getTracer('test')
const { place } = placesForThisFile('tr')
const fixture = fileURLToPath(new URL('./fixtures/traced-worker.mjs', import.meta.url))

/** Submits inside a span of the test's own; returns the handle and that span's context. */
async function submitUnderSpan(ex, name, payload) {
  return tracer.startActiveSpan('request', async (span) => {
    try {
      return { h: await ex.submit(name, payload), parent: span.spanContext() }
    } finally {
      span.end()
    }
  })
}

test('a run is a span under the span active at submit; spans made in the handler are its children', async () => {
  exporter.reset()
  const ex = new Executor()
  ex.register('work', async (x) => {
    tracer.startActiveSpan('inside', (s) => s.end())
    return x * 2
  }, { queue: 'jobs' })
  let flaky = 0
  ex.register('flaky', () => {
    if (++flaky === 1) throw new Error('first fails')
    return 'ok'
  }, { retry: { maxRetries: 1, delayMs: 1 } })
  try {
    const { h, parent } = await submitUnderSpan(ex, 'work', 21)
    assert.equal(await h.result(), 42)
    const spans = exporter.getFinishedSpans()
    const run = spans.find((s) => s.name === 'taskloom.run work')
    assert.ok(run, spans.map((s) => s.name).join())
    assert.equal(run.spanContext().traceId, parent.traceId)
    assert.equal(run.parentSpanContext.spanId, parent.spanId)
    assert.equal(run.kind, api.SpanKind.CONSUMER)
    assert.deepEqual(
      [run.attributes['taskloom.task.id'], run.attributes['taskloom.task.name'], run.attributes['taskloom.task.attempt'], run.attributes['taskloom.queue'], run.attributes['taskloom.outcome']],
      [h.id, 'work', 1, 'jobs', 'success'],
    )
    const inside = spans.find((s) => s.name === 'inside')
    assert.equal(inside.parentSpanContext.spanId, run.spanContext().spanId)

    // A failed run: an error status and the exception; its retry is a second span.
    exporter.reset()
    const f = await submitUnderSpan(ex, 'flaky', null)
    assert.equal(await f.h.result(), 'ok')
    const runs = exporter.getFinishedSpans().filter((s) => s.name === 'taskloom.run flaky')
    assert.deepEqual(runs.map((s) => [s.attributes['taskloom.task.attempt'], s.attributes['taskloom.outcome'], s.status.code]), [
      [1, 'failure', api.SpanStatusCode.ERROR],
      [2, 'success', api.SpanStatusCode.UNSET],
    ])
    assert.equal(runs[0].events[0].name, 'exception')
    for (const s of runs) assert.equal(s.parentSpanContext.spanId, f.parent.spanId)

    // Submitted with no span active: a run is a root span.
    exporter.reset()
    await (await ex.submit('work', 1)).result()
    assert.equal(exporter.getFinishedSpans().find((s) => s.name === 'taskloom.run work').parentSpanContext, undefined)
    // A traceparent given explicitly wins; a malformed one is refused, storing nothing.
    exporter.reset()
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    await (await ex.submit('work', 2, { traceparent: tp })).result()
    const explicit = exporter.getFinishedSpans().find((s) => s.name === 'taskloom.run work')
    assert.equal(explicit.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c')
    assert.equal(explicit.parentSpanContext.spanId, 'b7ad6b7169203331')
    await assert.rejects(ex.submit('work', 3, { traceparent: 'nope' }), /`traceparent` must be a W3C traceparent/)
    // ex.run(): a span under the active one too.
    exporter.reset()
    const direct = await tracer.startActiveSpan('direct', async (span) => {
      try {
        return { value: await ex.run('work', 5), parent: span.spanContext() }
      } finally {
        span.end()
      }
    })
    assert.equal(direct.value, 10)
    const directRun = exporter.getFinishedSpans().find((s) => s.name === 'taskloom.run work')
    assert.equal(directRun.parentSpanContext.spanId, direct.parent.spanId)
  } finally {
    await ex.close()
  }
})

for (const kind of ['sqlite', 'redis']) {
  test(`${kind}: the span of a run in another process has the submitter's span as its parent`, async () => {
    const p = place(kind)
    const child = spawnNode([fixture, p.store, p.namespace, 'remote-work'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines = []
    child.stdout.on('data', (d) => lines.push(...d.toString().split('\n').filter(Boolean)))
    child.exited = new Promise((resolve) => child.on('exit', resolve))
    await until(() => lines.includes('ready'), 10_000, 'the worker')
    const ex = new Executor({ ...storeOptions(p), worker: false })
    try {
      const { h, parent } = await submitUnderSpan(ex, 'remote-work', { n: 1 })
      const bad = await submitUnderSpan(ex, 'remote-work', { fail: true })
      assert.deepEqual(await h.result({ timeoutMs: 20_000 }), { n: 1 })
      await assert.rejects(bad.h.result({ timeoutMs: 20_000 }), /asked to fail/)
      await until(() => lines.filter((l) => l.startsWith('span ')).length >= 4, 10_000, 'the spans')
      const spans = lines.filter((l) => l.startsWith('span ')).map((l) => JSON.parse(l.slice(5)))
      const run = spans.find((s) => s.name === 'taskloom.run remote-work' && s.attributes['taskloom.task.id'] === h.id)
      assert.equal(run.traceId, parent.traceId)
      assert.equal(run.parentSpanId, parent.spanId)
      assert.equal(run.attributes['taskloom.outcome'], 'success')
      const inside = spans.find((s) => s.name === 'inside the handler' && s.parentSpanId === run.spanId)
      assert.ok(inside, 'a span made in the handler is the run span\'s child')
      const failed = spans.find((s) => s.name === 'taskloom.run remote-work' && s.attributes['taskloom.task.id'] === bad.h.id)
      assert.equal(failed.parentSpanId, bad.parent.spanId)
      assert.equal(failed.status.code, api.SpanStatusCode.ERROR)
    } finally {
      await ex.close()
      child.kill('SIGTERM')
      await child.exited
    }
  })
}

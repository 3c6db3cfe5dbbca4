'use strict'
// OpenTelemetry tracing, when the application has `@opentelemetry/api` (an optional peer
// dependency): each run is a span `taskloom.run <name>` whose parent is the span that
// was active at submit. That parent travels with the task as a W3C `traceparent` (kept
// by the store), so it crosses processes. Without the package every function here is
// a constant no-op: `enabled` is false and nothing else is looked at.

let api = null
try {
  api = require('@opentelemetry/api')
} catch {
  api = null
}

const enabled = api !== null
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
let tracer = null

function getTracer() {
  if (tracer === null) tracer = api.trace.getTracer('taskloom', require('../package.json').version)
  return tracer
}

/**
 * Whether runs are traced: the package is there and a tracer provider is registered
 * (with only the API, spans would be no-ops: skip them).
 */
function active() {
  if (!enabled) return false
  const provider = api.trace.getTracerProvider()
  const delegate = typeof provider.getDelegate === 'function' ? provider.getDelegate() : provider
  return delegate?.constructor?.name !== 'NoopTracerProvider'
}

/** The `traceparent` of the span active now, or undefined (no package, no span). */
function currentTraceparent() {
  if (!active()) return undefined
  const sc = api.trace.getSpanContext(api.context.active())
  if (sc === undefined || !api.trace.isSpanContextValid(sc)) return undefined
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`
}

/** The context a run's span starts in: under the submitter's span, else the current one. */
function parentContext(traceparent) {
  const m = traceparent == null ? null : TRACEPARENT.exec(traceparent)
  if (m === null) return api.context.active()
  return api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16), isRemote: true })
}

/**
 * Runs `run()` (returning a promise) inside the span of one run of a task; its outcome
 * becomes the span's status and `taskloom.outcome` (success, failure, cancelled).
 */
function inRunSpan(task, run) {
  const attributes = {
    'messaging.system': 'taskloom',
    'messaging.operation.type': 'process',
    'messaging.destination.name': task.queue,
    'messaging.message.id': task.id,
    'taskloom.task.id': task.id,
    'taskloom.task.name': task.name,
    'taskloom.task.attempt': task.attempt,
    'taskloom.queue': task.queue,
  }
  const options = { kind: api.SpanKind.CONSUMER, attributes }
  return getTracer().startActiveSpan(`taskloom.run ${task.name}`, options, parentContext(task.traceparent), async (span) => {
    try {
      const value = await run()
      span.setAttribute('taskloom.outcome', 'success')
      return value
    } catch (err) {
      const cancelled = err?.code === 'ERR_TASK_CANCELLED' || err?.name === 'TaskCancelledError'
      span.setAttribute('taskloom.outcome', cancelled ? 'cancelled' : 'failure')
      if (err instanceof Error) span.recordException(err)
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) })
      throw err
    } finally {
      span.end()
    }
  })
}

module.exports = { active, currentTraceparent, inRunSpan }

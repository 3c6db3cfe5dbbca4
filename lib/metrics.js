'use strict'
// `ex.metrics()` and `ex.metricsText()`: what this process counted per task name (from
// the engine), summed per queue, beside the store's depth by state; and the same in the
// Prometheus text exposition format (names and labels after Prometheus's conventions).

const COUNTERS = [
  ['completed', 'taskloom_tasks_completed_total', 'Runs that ended SUCCESS, counted by this process.'],
  ['failed', 'taskloom_tasks_failed_total', 'Tasks that ended FAILURE in this process (last attempt failed, or refused by an open breaker).'],
  ['retried', 'taskloom_tasks_retried_total', 'Failed runs scheduled to run again, counted by this process.'],
  ['cancelled', 'taskloom_tasks_cancelled_total', 'Tasks that ended REVOKED in this process.'],
  ['timedOut', 'taskloom_tasks_timed_out_total', 'Runs that exceeded their timeoutMs, counted by this process.'],
  ['rateLimited', 'taskloom_rate_limited_total', 'Times a ready task was held back by a rate limit in this process.'],
  ['breakerTransitions', 'taskloom_breaker_transitions_total', 'Circuit breaker state changes in this process.'],
]
const QUEUE_SUMS = ['completed', 'failed', 'retried', 'cancelled', 'timedOut', 'running']
const BREAKER_STATES = ['closed', 'open', 'halfOpen']
const INTERNAL = 'taskloom-workflow'

/** The snapshot from the engine's per-name JSON and the store's counts. */
function snapshot(perName, counts) {
  const tasks = {}
  const queues = {}
  for (const [name, q] of Object.entries(counts.queues)) queues[name] = { depth: q }
  for (const [name, m] of Object.entries(perName)) {
    if (name === INTERNAL) continue
    tasks[name] = m
    const q = (queues[m.queue] ??= { depth: emptyDepth(counts.total) })
    for (const k of QUEUE_SUMS) q[k] = (q[k] ?? 0) + m[k]
  }
  for (const q of Object.values(queues)) for (const k of QUEUE_SUMS) q[k] ??= 0
  return { tasks, queues, total: counts.total }
}

function emptyDepth(total) {
  return Object.fromEntries(Object.keys(total).map((s) => [s, 0]))
}

/** A label value, escaped as the exposition format wants (backslash, quote, newline). */
function label(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function num(v) {
  if (v === Infinity) return '+Inf'
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(15)))
}

/** The snapshot in the Prometheus text format (version 0.0.4). */
function prometheusText(m) {
  const out = []
  const family = (name, type, help) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
  const tasks = Object.entries(m.tasks)
  const taskLabels = (name, t) => `task="${label(name)}",queue="${label(t.queue)}"`
  for (const [key, metric, help] of COUNTERS) {
    family(metric, 'counter', help)
    for (const [name, t] of tasks) out.push(`${metric}{${taskLabels(name, t)}} ${num(t[key])}`)
  }
  family('taskloom_tasks_running', 'gauge', 'Handlers of the task running in this process now.')
  for (const [name, t] of tasks) out.push(`taskloom_tasks_running{${taskLabels(name, t)}} ${t.running}`)
  family('taskloom_breaker_state', 'gauge', "The circuit breaker's state: 1 for the current one, 0 for the others.")
  for (const [name, t] of tasks) {
    if (t.breaker === null) continue
    for (const s of BREAKER_STATES) out.push(`taskloom_breaker_state{${taskLabels(name, t)},state="${s}"} ${t.breaker === s ? 1 : 0}`)
  }
  for (const [key, metric, help] of [
    ['waitSeconds', 'taskloom_task_wait_seconds', 'Time from ready (due) to started, per run in this process.'],
    ['runSeconds', 'taskloom_task_run_seconds', 'Time from started to finished, per run in this process.'],
  ]) {
    family(metric, 'histogram', help)
    for (const [name, t] of tasks) {
      const h = t[key]
      let cumulative = 0
      h.buckets.forEach((le, i) => {
        cumulative += h.counts[i]
        out.push(`${metric}_bucket{${taskLabels(name, t)},le="${num(le)}"} ${cumulative}`)
      })
      out.push(`${metric}_bucket{${taskLabels(name, t)},le="+Inf"} ${h.count}`)
      out.push(`${metric}_sum{${taskLabels(name, t)}} ${num(h.sum)}`)
      out.push(`${metric}_count{${taskLabels(name, t)}} ${h.count}`)
    }
  }
  family('taskloom_queue_tasks', 'gauge', 'Tasks in the store per queue and state (the whole store, every process).')
  for (const [queue, q] of Object.entries(m.queues)) {
    for (const [state, n] of Object.entries(q.depth)) out.push(`taskloom_queue_tasks{queue="${label(queue)}",state="${state.toLowerCase()}"} ${n}`)
  }
  return out.join('\n') + '\n'
}

module.exports = { snapshot, prometheusText }

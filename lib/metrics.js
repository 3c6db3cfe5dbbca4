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

/**
 * The snapshot as metric families, `{ name, type, help, values: [{ labels, value,
 * metricName? }] }` (prom-client's shape): rendered as text below, and handed to
 * prom-client registries by `collectors`.
 */
function families(m) {
  const out = []
  const tasks = Object.entries(m.tasks)
  const taskLabels = (name, t) => ({ task: name, queue: t.queue })
  const family = (name, type, help, values) => out.push({ name, type, help, values, aggregator: 'sum' })
  for (const [key, metric, help] of COUNTERS) {
    family(metric, 'counter', help, tasks.map(([name, t]) => ({ labels: taskLabels(name, t), value: t[key] })))
  }
  family('taskloom_tasks_running', 'gauge', 'Handlers of the task running in this process now.',
    tasks.map(([name, t]) => ({ labels: taskLabels(name, t), value: t.running })))
  family('taskloom_breaker_state', 'gauge', "The circuit breaker's state: 1 for the current one, 0 for the others.",
    tasks.filter(([, t]) => t.breaker !== null).flatMap(([name, t]) =>
      BREAKER_STATES.map((s) => ({ labels: { ...taskLabels(name, t), state: s }, value: t.breaker === s ? 1 : 0 }))))
  for (const [key, metric, help] of [
    ['waitSeconds', 'taskloom_task_wait_seconds', 'Time from ready (due) to started, per run in this process.'],
    ['runSeconds', 'taskloom_task_run_seconds', 'Time from started to finished, per run in this process.'],
  ]) {
    const values = []
    for (const [name, t] of tasks) {
      const h = t[key]
      const labels = taskLabels(name, t)
      let cumulative = 0
      h.buckets.forEach((le, i) => {
        cumulative += h.counts[i]
        values.push({ metricName: `${metric}_bucket`, labels: { ...labels, le: num(le) }, value: cumulative })
      })
      values.push({ metricName: `${metric}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count })
      values.push({ metricName: `${metric}_sum`, labels, value: h.sum })
      values.push({ metricName: `${metric}_count`, labels, value: h.count })
    }
    family(metric, 'histogram', help, values)
  }
  family('taskloom_queue_tasks', 'gauge', 'Tasks in the store per queue and state (the whole store, every process).',
    Object.entries(m.queues).flatMap(([queue, q]) =>
      Object.entries(q.depth).map(([state, n]) => ({ labels: { queue, state: state.toLowerCase() }, value: n }))))
  return out
}

/** The snapshot in the Prometheus text format (version 0.0.4). */
function prometheusText(m) {
  const out = []
  for (const f of families(m)) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`)
    for (const v of f.values) {
      const labels = Object.entries(v.labels).map(([k, x]) => `${k}="${label(x)}"`).join(',')
      out.push(`${v.metricName ?? f.name}{${labels}} ${num(v.value)}`)
    }
  }
  return out.join('\n') + '\n'
}

/**
 * One prom-client metric per family (`registry.registerMetric(m)`), reading `snapshot()`
 * when scraped: a scrape asks every family in the same tick, so they share one snapshot.
 * prom-client itself is not needed here.
 */
function collectors(snapshot) {
  let pending = null
  const current = () => {
    if (pending === null) {
      pending = snapshot()
      queueMicrotask(() => (pending = null)) // once this tick's get() calls have it
    }
    return pending
  }
  return families({ tasks: {}, queues: {} }).map(({ name, type, help }) => ({
    name,
    type,
    help,
    aggregator: 'sum',
    async get() {
      const f = families(await current()).find((x) => x.name === name)
      return { name, type, help, aggregator: 'sum', values: f.values }
    },
    reset() {}, // the counts are the engine's: a registry reset leaves them
  }))
}

module.exports = { snapshot, prometheusText, collectors }

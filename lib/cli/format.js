'use strict'
// Output of the `taskloom` command: aligned tables for people, JSON for scripts.

const STATES = ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED']

/** Rows (arrays of cells) under `header`, each column as wide as its widest cell. */
function table(header, rows) {
  const all = [header, ...rows].map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)))
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n')
}

function time(d) {
  return d == null ? '' : new Date(d).toISOString().replace('T', ' ').slice(0, 19)
}

/** `counts()` as a table: one row per queue, then the total. */
function countsTable(counts) {
  const rows = Object.entries(counts.queues)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([q, c]) => [q, ...STATES.map((s) => c[s] ?? 0)])
  rows.push(['(total)', ...STATES.map((s) => counts.total[s] ?? 0)])
  return table(['QUEUE', ...STATES], rows)
}

function tasksTable(tasks) {
  return table(
    ['ID', 'NAME', 'QUEUE', 'STATE', 'RETRIES', 'CREATED', 'COMPLETED'],
    tasks.map((t) => [t.id, t.name, t.queue, t.state, t.retries, time(t.createdAt), time(t.completedAt)]),
  )
}

function schedulesTable(schedules) {
  return table(
    ['ID', 'NAME', 'CRON', 'TZ', 'PAUSED', 'NEXT RUN'],
    schedules.map((s) => [s.id, s.name, s.cron, s.tz ?? 'UTC', s.paused ? 'yes' : 'no', time(s.nextRunAt)]),
  )
}

/** One task's info as `field: value` lines; payload, result and error as JSON. */
function infoText(info) {
  const lines = []
  for (const [k, v] of Object.entries(info)) {
    if (k === 'logs') continue
    const shown = v instanceof Date ? time(v) : v !== null && typeof v === 'object' ? JSON.stringify(v) : v
    lines.push(`${k.padEnd(12)} ${shown ?? ''}`)
  }
  for (const l of info.logs ?? []) lines.push(`log          ${time(l.time)} ${l.level} ${l.message}`)
  return lines.join('\n')
}

module.exports = { STATES, table, time, countsTable, tasksTable, schedulesTable, infoText }

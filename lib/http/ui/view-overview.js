// The overview: every queue (counts by state, paused, throughput and failures over the
// last five minutes), the workers sharing the store, breakers, rate limits. Re-read when
// events say something changed (at most every 2 s), never on a timer of its own; only
// the charts and countdowns redraw each second, in the page.

import { api } from './api.js'
import { h, fill, ago, stateBadge } from './dom.js'
import { sparkline, WINDOW_S } from './charts.js'
import { rates, onEvents, throttle, confirmAction, notice } from './live.js'

const STATES = ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED']

export function overviewView() {
  const el = h('section', { class: 'view overview' }, h('p', { class: 'muted' }, 'Loading…'))
  let data = null
  const heldUntil = new Map() // rate limit → until (from rateLimited events)

  const load = async () => {
    try {
      data = (await api('/ui/api/overview')).body
      render()
    } catch (err) {
      fill(el, h('p', { class: 'error' }, `Could not read the overview: ${err.message}`))
    }
  }
  const reload = throttle(load, 2000)

  const queueAction = async (name, action) => {
    if (action === 'drain' && !(await confirmAction(`Drain queue '${name}'? Every waiting task in it is removed.`))) return
    try {
      await api(`/api/v1/queues/${encodeURIComponent(name)}/$${action}`, { method: 'POST' })
      notice(`Queue '${name}': ${action} done`)
    } catch (err) {
      notice(err.message, 'error')
    }
    load()
  }

  function queuesTable() {
    return h(
      'table',
      { class: 'queues' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Queue'), STATES.map((s) => h('th', { class: 'num' }, stateBadge(s))), h('th', {}, 'Completed / s'), h('th', {}, 'Failures'), h('th', {}, ''))),
      h(
        'tbody',
        {},
        data.queues.map((q) => {
          return h(
            'tr',
            { dataset: { queue: q.name } },
            h('td', {}, h('a', { href: `#/tasks?queue=${encodeURIComponent(q.name)}` }, q.name), q.paused ? h('span', { class: 'badge paused' }, 'paused') : null),
            STATES.map((s) => h('td', { class: 'num', dataset: { count: s } }, h('a', { href: `#/tasks?queue=${encodeURIComponent(q.name)}&state=${s}` }, String(q.counts[s] ?? 0)))),
            chartCells(q.name),
            h(
              'td',
              { class: 'actions' },
              q.paused ? h('button', { onclick: () => queueAction(q.name, 'resume') }, 'Resume') : h('button', { onclick: () => queueAction(q.name, 'pause') }, 'Pause'),
              h('button', { class: 'danger', onclick: () => queueAction(q.name, 'drain') }, 'Drain'),
            ),
          )
        }),
      ),
    )
  }

  function chartCells(queue) {
    const series = rates.series(queue)
    const sum = rates.summary(queue)
    return [
      h('td', { class: 'chart', dataset: { chart: 'completed' } }, sparkline(series.completed, { label: `${queue}: completed per second, last ${WINDOW_S / 60} minutes` }), h('span', { class: 'rate' }, sum.perSecond.toFixed(1))),
      h('td', { class: 'chart', dataset: { chart: 'failed' } }, sparkline(series.failed, { className: 'spark bad', label: `${queue}: failed runs per second` }), h('span', { class: 'rate' }, sum.failureRate === null ? '—' : `${(sum.failureRate * 100).toFixed(1)}%`)),
    ]
  }

  /** Each second: the charts and countdowns move; nothing else is redrawn (buttons stay put). */
  function tick() {
    for (const row of el.querySelectorAll('tr[data-queue]')) {
      const cells = row.querySelectorAll('td.chart')
      const fresh = chartCells(row.dataset.queue)
      cells.forEach((c, i) => c.replaceWith(fresh[i]))
    }
    for (const c of el.querySelectorAll('[data-at]')) {
      if (c.dataset.at !== '' && !c.querySelector('.badge')) c.textContent = ago(c.dataset.at)
    }
  }

  function workersTable() {
    if (data.workers.length === 0) {
      return h('p', { class: 'muted' }, data.storeKind === 'memory' ? `One process (the memory store): ${data.workerId}` : 'No worker has published its tasks to this store.')
    }
    return h(
      'table',
      { class: 'workers' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Worker'), h('th', {}, 'pid'), h('th', {}, 'Alive'), h('th', {}, 'Last seen'), h('th', {}, 'Tasks'))),
      h(
        'tbody',
        {},
        data.workers.map((w) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, w.id, w.id === data.workerId ? h('span', { class: 'badge' }, 'this server') : null),
            h('td', { class: 'num' }, String(w.pid)),
            h('td', {}, w.alive ? h('span', { class: 'badge ok' }, 'alive') : h('span', { class: 'badge bad' }, 'gone')),
            h('td', { dataset: { at: w.lastSeenAt ?? '' } }, ago(w.lastSeenAt)),
            h('td', {}, w.tasks.join(', ')),
          ),
        ),
      ),
    )
  }

  function breakersTable() {
    const list = data.tasks.filter((t) => t.circuitBreaker !== null)
    if (list.length === 0) return h('p', { class: 'muted' }, 'No task has a circuit breaker.')
    return h(
      'table',
      { class: 'breakers' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Task'), h('th', {}, 'State'), h('th', {}, 'Failures'), h('th', {}, 'Half-opens'), h('th', {}, 'On open'))),
      h(
        'tbody',
        {},
        list.map((t) =>
          h(
            'tr',
            { dataset: { breaker: t.name } },
            h('td', {}, t.name),
            h('td', {}, h('span', { class: `badge b-${t.breaker?.state ?? 'closed'}` }, t.breaker?.state ?? 'closed')),
            h('td', { class: 'num' }, String(t.breaker?.failures ?? 0)),
            h('td', { class: 'countdown', dataset: { at: t.breaker?.nextTryAt ?? '' } }, t.breaker?.nextTryAt ? ago(t.breaker.nextTryAt) : '—'),
            h('td', {}, t.circuitBreaker.onOpen),
          ),
        ),
      ),
    )
  }

  function limitsTable() {
    const list = data.tasks.filter((t) => t.rateLimit !== null)
    if (list.length === 0) return h('p', { class: 'muted' }, 'No task has a rate limit.')
    return h(
      'table',
      { class: 'limits' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Task'), h('th', {}, 'Limit'), h('th', {}, 'Held back (times)'), h('th', {}, 'Holding until'))),
      h(
        'tbody',
        {},
        list.map((t) => {
          const until = heldUntil.get(t.name)
          const holding = until !== undefined && new Date(until).getTime() > Date.now()
          return h(
            'tr',
            { dataset: { limit: t.name } },
            h('td', {}, t.name),
            h('td', {}, `${t.rateLimit.limit} per ${t.rateLimit.intervalMs} ms (burst ${t.rateLimit.burst})`),
            h('td', { class: 'num' }, String(t.rateLimited)),
            h('td', { class: 'countdown', dataset: { at: holding ? until : '' } }, holding ? h('span', { class: 'badge warn' }, `holding, free ${ago(until)}`) : '—'),
          )
        }),
      ),
    )
  }

  function render() {
    if (data === null) return
    fill(
      el,
      h('h1', {}, 'Overview ', h('small', { class: 'muted' }, `${data.storeKind} store`)),
      h('h2', {}, 'Queues'),
      data.queues.length === 0 ? h('p', { class: 'muted' }, 'No queues yet: register a task, or submit one.') : queuesTable(),
      h('div', { class: 'cols' }, h('div', {}, h('h2', {}, 'Workers'), workersTable()), h('div', {}, h('h2', {}, 'Schedules'), h('p', {}, h('a', { href: '#/schedules' }, `${data.schedules.length} schedule${data.schedules.length === 1 ? '' : 's'}`)))),
      h('div', { class: 'cols' }, h('div', {}, h('h2', {}, 'Circuit breakers'), breakersTable()), h('div', {}, h('h2', {}, 'Rate limits'), limitsTable())),
    )
  }

  const stop = onEvents((batch) => {
    for (const e of batch.events) if (e.type === 'rateLimited' && e.name !== null) heldUntil.set(e.name, e.until)
    reload()
  })
  // The charts and countdowns move with time; only the page redraws (no request).
  const ticker = setInterval(tick, 1000)
  load()
  return { el, dispose: () => (stop(), clearInterval(ticker)) }
}

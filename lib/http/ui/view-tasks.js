// Task lists by state, name and queue, newest (or oldest) first, a page at a time with the store's cursor (so a
// page costs the same with a million tasks in the store). Rows on the page follow their
// tasks live (state, progress) from the event stream.

import { api } from './api.js'
import { h, fill, when, stateBadge } from './dom.js'
import { onEvents } from './live.js'

const STATES = ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED']
const PAGE = 50

/** `query`: URLSearchParams of the hash (`state`, `name`, `queue`, `order`, `cursor`, `trail`). */
export function tasksView(query) {
  const el = h('section', { class: 'view tasks' })
  const filters = { state: query.get('state') ?? '', name: query.get('name') ?? '', queue: query.get('queue') ?? '', order: query.get('order') === 'oldest' ? 'oldest' : '' }
  const cursor = query.get('cursor')
  // The cursors of the pages before this one ('-': the first), so "previous" needs no backwards query.
  const trail = (query.get('trail') ?? '').split(',').filter((c) => c !== '')
  const rows = new Map()

  const go = (next) => {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries({ ...filters, ...next })) if (v) q.set(k, v)
    location.hash = `#/tasks?${q}`
  }

  const select = (name, options, value) =>
    h(
      'select',
      { name, 'aria-label': name, onchange: (e) => go({ [name]: e.target.value }) },
      h('option', { value: '' }, `any ${name}`),
      options.map((o) => h('option', { value: o, selected: o === value }, o)),
    )

  const row = (job) => {
    const progress = h('progress', { max: 100, value: job.progress ?? 0, hidden: job.progress === null })
    const tr = h(
      'tr',
      { dataset: { id: job.id } },
      h('td', { class: 'mono' }, h('a', { href: `#/task/${job.id}` }, job.id.slice(0, 8))),
      h('td', {}, job.task_name),
      h('td', {}, job.queue),
      h('td', { class: 'state-cell' }, stateBadge(job.state)),
      h('td', {}, progress),
      h('td', { class: 'num' }, String(job.attempt)),
      h('td', {}, when(job.submitted_at)),
      h('td', {}, when(job.finished_at)),
    )
    rows.set(job.id, { tr, progress })
    return tr
  }

  const load = async () => {
    const q = new URLSearchParams({ limit: String(PAGE) })
    if (filters.state) q.set('state', filters.state)
    if (filters.name) q.set('task_name', filters.name)
    if (filters.queue) q.set('queue', filters.queue)
    q.set('order', filters.order || 'newest')
    if (cursor) q.set('cursor', cursor)
    const started = performance.now()
    let page
    let registry
    try {
      // The registry for the filters (not the overview: its counts read every task).
      ;[page, registry] = await Promise.all([api(`/api/v1/jobs?${q}`), api('/api/v1/tasks')])
    } catch (err) {
      fill(el, h('p', { class: 'error' }, `Could not list tasks: ${err.message}`))
      return
    }
    const next = page.headers.get('x-next-cursor')
    const names = registry.body.map((t) => t.name)
    const queues = [...new Set(registry.body.map((t) => t.queue))].sort()
    fill(
      el,
      h('h1', {}, 'Tasks'),
      h(
        'div',
        { class: 'filters' },
        select('state', STATES, filters.state),
        select('name', names, filters.name),
        select('queue', queues, filters.queue),
        h(
          'select',
          { name: 'order', 'aria-label': 'order', onchange: (e) => go({ order: e.target.value }) },
          h('option', { value: '' }, 'newest first'),
          h('option', { value: 'oldest', selected: filters.order === 'oldest' }, 'oldest first'),
        ),
      ),
      page.body.length === 0
        ? h('p', { class: 'muted empty' }, 'No tasks match.')
        : h(
            'table',
            { class: 'task-list' },
            h('thead', {}, h('tr', {}, ['Id', 'Task', 'Queue', 'State', 'Progress', 'Attempt', 'Submitted', 'Finished'].map((c) => h('th', {}, c)))),
            h('tbody', {}, page.body.map(row)),
          ),
      h(
        'div',
        { class: 'pager' },
        h('button', { class: 'prev', disabled: trail.length === 0, onclick: () => go({ cursor: trail.at(-1) === '-' ? '' : trail.at(-1), trail: trail.slice(0, -1).join(',') }) }, '← Previous'),
        h('span', { class: 'muted page-no', dataset: { loadMs: String(Math.round(performance.now() - started)) } }, `page ${trail.length + 1} · ${filters.order || 'newest'} first`),
        h('button', { class: 'next', disabled: next === null, onclick: () => go({ cursor: next, trail: [...trail, cursor ?? '-'].join(',') }) }, 'Next →'),
      ),
    )
  }

  const stop = onEvents((batch) => {
    for (const e of batch.events) {
      const r = rows.get(e.id)
      if (r === undefined) continue
      if (e.type === 'state') fill(r.tr.querySelector('.state-cell'), stateBadge(e.state))
      if (e.type === 'progress') {
        r.progress.hidden = false
        r.progress.value = e.percent
      }
    }
  })
  load()
  return { el, dispose: stop }
}

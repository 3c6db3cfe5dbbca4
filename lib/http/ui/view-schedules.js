// Cron schedules: expression, time zone, next tick, paused; pause and resume; and the
// last runs of the schedule's task (by its name: other submits of that task show too).

import { api } from './api.js'
import { h, fill, ago, when, stateBadge } from './dom.js'
import { notice } from './live.js'

export function schedulesView() {
  const el = h('section', { class: 'view schedules' }, h('p', { class: 'muted' }, 'Loading…'))

  const toggle = async (s) => {
    try {
      await api(`/api/v1/schedules/${encodeURIComponent(s.id)}/$${s.paused ? 'resume' : 'pause'}`, { method: 'POST' })
      notice(`Schedule ${s.id}: ${s.paused ? 'resumed' : 'paused'}`)
    } catch (err) {
      notice(err.message, 'error')
    }
    load()
  }

  const load = async () => {
    let list
    const runs = new Map()
    try {
      list = (await api('/api/v1/schedules')).body
      // The last runs of each schedule's task (newest first).
      await Promise.all(
        list.map(async (s) => runs.set(s.id, (await api(`/api/v1/jobs?task_name=${encodeURIComponent(s.name)}&order=newest&limit=5`)).body)),
      )
    } catch (err) {
      fill(el, h('p', { class: 'error' }, err.message))
      return
    }
    fill(
      el,
      h('h1', {}, 'Schedules'),
      list.length === 0
        ? h('p', { class: 'muted' }, 'No schedules. Add one with ex.schedule(name, cron).')
        : h(
            'table',
            { class: 'schedule-list' },
            h('thead', {}, h('tr', {}, ['Id', 'Task', 'Cron', 'Time zone', 'Next tick', 'Missed ticks', 'State', '', 'Recent runs'].map((c) => h('th', {}, c)))),
            h(
              'tbody',
              {},
              list.map((s) =>
                h(
                  'tr',
                  { dataset: { schedule: s.id } },
                  h('td', { class: 'mono' }, s.id),
                  h('td', {}, s.name),
                  h('td', { class: 'mono' }, s.cron),
                  h('td', {}, s.tz ?? 'UTC'),
                  h('td', { title: when(s.nextRunAt) }, s.nextRunAt ? ago(s.nextRunAt) : '—'),
                  h('td', {}, s.missed),
                  h('td', {}, s.paused ? h('span', { class: 'badge paused' }, 'paused') : h('span', { class: 'badge ok' }, 'active')),
                  h('td', {}, h('button', { onclick: () => toggle(s) }, s.paused ? 'Resume' : 'Pause')),
                  h(
                    'td',
                    { class: 'runs' },
                    runs.get(s.id).map((j) => h('a', { href: `#/task/${j.id}`, title: `${j.state} ${when(j.submitted_at)}` }, stateBadge(j.state))),
                    h('a', { href: `#/tasks?name=${encodeURIComponent(s.name)}` }, ' all'),
                  ),
                ),
              ),
            ),
          ),
    )
  }
  load()
  return { el }
}

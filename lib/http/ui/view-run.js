// Run a registered task: a form generated from its params schema, sent to the API's
// `$execute`; bad params come back as the validator's issues beside their fields.

import { api } from './api.js'
import { h, fill } from './dom.js'
import { paramsForm, collectParams, showIssues } from './form.js'

export function runView(query) {
  const el = h('section', { class: 'view run' }, h('p', { class: 'muted' }, 'Loading…'))
  const chosen = query.get('task')

  const load = async () => {
    let tasks
    try {
      tasks = (await api('/api/v1/tasks')).body
    } catch (err) {
      fill(el, h('p', { class: 'error' }, err.message))
      return
    }
    const task = tasks.find((t) => t.name === chosen)
    if (task === undefined) {
      fill(
        el,
        h('h1', {}, 'Run a task'),
        tasks.length === 0 ? h('p', { class: 'muted' }, 'No tasks are registered (here, or published to the store by a worker).') : null,
        h(
          'ul',
          { class: 'registry' },
          tasks.map((t) =>
            h(
              'li',
              {},
              h('a', { href: `#/run?task=${encodeURIComponent(t.name)}` }, t.name),
              h('code', {}, t.signature),
              t.docstring ? h('p', {}, t.docstring) : null,
              t.tags.length ? h('p', { class: 'tags' }, t.tags.map((tag) => h('span', { class: 'badge' }, tag))) : null,
            ),
          ),
        ),
      )
      return
    }
    const fields = paramsForm(task.params)
    const general = h('pre', { class: 'issue general', role: 'alert' })
    const submit = async (e) => {
      e.preventDefault()
      let params
      try {
        params = collectParams(fields)
      } catch (err) {
        general.textContent = err.message
        return
      }
      try {
        const r = await api(`/api/v1/tasks/${encodeURIComponent(task.name)}/$execute`, { method: 'POST', body: { params } })
        location.hash = `#/task/${r.body.job_id}`
      } catch (err) {
        if (Array.isArray(err.body?.errors)) showIssues(fields, err.body.errors, general)
        else general.textContent = err.message
      }
    }
    fill(
      el,
      h('h1', {}, 'Run ', task.name),
      h('p', {}, h('code', {}, `${task.name}${task.signature}`)),
      task.docstring ? h('p', {}, task.docstring) : null,
      h('form', { class: 'run-form', onsubmit: submit, novalidate: true }, fields, general, h('button', { type: 'submit' }, `Run ${task.name}`)),
    )
  }
  load()
  return { el }
}

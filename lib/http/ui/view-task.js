// One task: its payload, result or error (with the stack), attempts, timestamps and a
// timeline, a live progress bar, status and log, its artifacts, a workflow's members
// as a graph, and the actions its state allows (cancel, retry, remove).

import { api } from './api.js'
import { h, fill, when, duration, stateBadge, json } from './dom.js'
import { workflowGraph } from './graph.js'
import { onEvents, throttle, confirmAction, notice } from './live.js'

const FINISHED = new Set(['SUCCESS', 'FAILURE', 'REVOKED'])

export function taskView(id) {
  const el = h('section', { class: 'view task' }, h('p', { class: 'muted' }, 'Loading…'))
  let detail = null
  let memberIds = new Set()
  const seen = [] // state changes seen live on this page: { at, state }
  const parts = {}

  const load = async () => {
    try {
      detail = (await api(`/ui/api/tasks/${encodeURIComponent(id)}`)).body
    } catch (err) {
      fill(el, h('h1', {}, 'Task'), h('p', { class: 'error' }, err.status === 404 ? `No task ${id} in this store (removed, or forgotten by retention).` : err.message))
      return
    }
    memberIds = new Set((detail.workflow?.members ?? []).map((m) => m.id).filter((x) => x !== null))
    render()
  }
  const reload = throttle(load, 300)

  const act = async (what, method, path, question) => {
    if (question && !(await confirmAction(question))) return
    try {
      const r = await api(path, { method })
      notice(`${what}: done`)
      if (what === 'Remove') {
        location.hash = '#/tasks'
        return
      }
      if (what === 'Retry' && r.body?.id) seen.push({ at: new Date().toISOString(), state: 'PENDING (retried)' })
    } catch (err) {
      notice(`${what}: ${err.message}`, 'error')
    }
    load()
  }

  function timeline(info) {
    const steps = [
      ['submitted', info.createdAt],
      ['due', info.runAt],
      ['started', info.startedAt],
      [info.state === 'SUCCESS' ? 'succeeded' : info.state === 'FAILURE' ? 'failed' : info.state === 'REVOKED' ? 'cancelled' : 'finished', FINISHED.has(info.state) ? info.completedAt : null],
    ].filter(([, at]) => at !== null && at !== undefined)
    for (const s of seen) steps.push([`→ ${s.state} (live)`, s.at])
    steps.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    return h('ol', { class: 'timeline' }, steps.map(([what, at]) => h('li', {}, h('time', { datetime: at }, when(at)), ' ', what)))
  }

  function logLine(l) {
    return h('li', { class: `log-${l.level}` }, h('time', {}, when(l.time)), ' ', h('span', { class: 'level' }, l.level), ' ', h('span', { class: 'msg' }, l.message))
  }

  function render() {
    const { info, artifacts, workflow } = detail
    const running = !FINISHED.has(info.state)
    parts.progress = h('progress', { max: 100, value: info.progress ?? 0, 'aria-label': 'progress' })
    parts.progressText = h('span', { class: 'progress-text' }, info.progress === null ? 'no progress reported' : `${info.progress}%${info.progressMessage ? ` — ${info.progressMessage}` : ''}`)
    parts.status = h('span', { class: 'status-text' }, info.status ?? '—')
    parts.logs = h('ol', { class: 'logs' }, info.logs.map(logLine))
    const ran = info.startedAt && info.completedAt ? new Date(info.completedAt) - new Date(info.startedAt) : null
    fill(
      el,
      h('h1', {}, info.name, ' ', stateBadge(info.state)),
      h('p', { class: 'mono muted' }, info.id),
      h(
        'div',
        { class: 'actions' },
        running ? h('button', { class: 'danger', onclick: () => act('Cancel', 'DELETE', `/api/v1/jobs/${info.id}`, `Cancel task ${info.name} (${info.id.slice(0, 8)})? A running handler is aborted.`) }, 'Cancel') : null,
        info.state === 'FAILURE' || info.state === 'REVOKED' ? h('button', { onclick: () => act('Retry', 'POST', `/api/v1/jobs/${info.id}/$retry`) }, 'Retry') : null,
        FINISHED.has(info.state) ? h('button', { class: 'danger', onclick: () => act('Remove', 'POST', `/api/v1/jobs/${info.id}/$remove`, `Remove task ${info.id.slice(0, 8)} and its result, logs and artifacts from the store?`) }, 'Remove') : null,
      ),
      h(
        'dl',
        { class: 'facts' },
        [
          ['Queue', info.queue],
          ['Priority', info.priority],
          ['Attempt', `${info.attempt} (retries: ${info.retries})`],
          ['Key', info.key ?? '—'],
          ['Worker', info.workerId ?? '—'],
          ['Ran for', duration(ran)],
          ['Breaker', info.breaker ? `${info.breaker.state} (${info.breaker.failures} failures)` : '—'],
        ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
      ),
      h('div', { class: 'live-box' }, h('h2', {}, 'Progress'), parts.progress, ' ', parts.progressText, h('p', {}, 'Status: ', parts.status)),
      workflow ? [h('h2', {}, 'Workflow'), workflowGraph(workflow.spec, workflow.members)] : null,
      h('div', { class: 'cols' }, h('div', {}, h('h2', {}, 'Payload'), json(info.payload)), h('div', {}, info.error ? [h('h2', {}, 'Error'), h('p', { class: 'error' }, h('strong', {}, info.error.type), ': ', info.error.message), info.error.stack ? h('pre', { class: 'stack' }, info.error.stack) : null] : [h('h2', {}, 'Result'), info.state === 'SUCCESS' ? json(info.result) : h('p', { class: 'muted' }, running ? 'Not finished yet.' : 'No result.')])),
      h('h2', {}, 'Timeline'),
      timeline(info),
      h('h2', {}, 'Log'),
      parts.logs,
      artifacts.length > 0 ? [h('h2', {}, 'Artifacts'), h('ul', { class: 'artifacts' }, artifacts.map((a) => h('li', {}, h('span', { class: 'mono' }, a.id), ' ', a.tags.join(', '), json(a.data))))] : null,
    )
  }

  const stop = onEvents((batch) => {
    for (const e of batch.events) {
      if (detail === null) continue
      // A workflow's members appear as it starts them: any state change may be one.
      if (e.type === 'state' && (memberIds.has(e.id) || (detail.workflow && !FINISHED.has(detail.info.state)))) reload()
      if (e.id !== detail.info.id) continue
      if (e.type === 'progress') {
        parts.progress.value = e.percent
        parts.progressText.textContent = `${e.percent}%${e.message ? ` — ${e.message}` : ''}`
      } else if (e.type === 'status') parts.status.textContent = e.status
      else if (e.type === 'log') parts.logs.appendChild(logLine(e))
      else if (e.type === 'state') {
        seen.push({ at: new Date(batch.at).toISOString(), state: e.state })
        reload()
      }
    }
  })
  load()
  return { el, dispose: stop }
}

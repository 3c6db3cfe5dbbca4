// The dashboard: a hash router over the views, the search box, and the live indicator.
// Views: #/ (overview), #/tasks?state=&name=&queue=, #/task/<id>, #/schedules, #/run?task=.

import { api } from './api.js'
import { fill } from './dom.js'
import { startLive, notice } from './live.js'
import { overviewView } from './view-overview.js'
import { tasksView } from './view-tasks.js'
import { taskView } from './view-task.js'
import { schedulesView } from './view-schedules.js'
import { runView } from './view-run.js'

let current = null

function route() {
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?')
  const query = new URLSearchParams(search)
  current?.dispose?.()
  let view
  let tab
  const task = /^\/task\/([0-9a-fA-F-]{36})$/.exec(path)
  if (task !== null) [view, tab] = [taskView(task[1]), 'tasks']
  else if (path === '/tasks') [view, tab] = [tasksView(query), 'tasks']
  else if (path === '/schedules') [view, tab] = [schedulesView(), 'schedules']
  else if (path === '/run') [view, tab] = [runView(query), 'run']
  else [view, tab] = [overviewView(), 'overview']
  current = view
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === tab)
  fill(document.getElementById('main'), view.el)
}

async function search(e) {
  e.preventDefault()
  const q = e.target.q.value.trim()
  if (q === '') return
  try {
    const { body } = await api(`/ui/api/find?q=${encodeURIComponent(q)}`)
    location.hash = `#/task/${body.id}`
  } catch (err) {
    notice(err.message, 'error')
  }
}

function start() {
  document.getElementById('search').addEventListener('submit', search)
  const live = document.getElementById('live')
  startLive((on) => {
    live.textContent = on ? 'live' : 'offline'
    live.classList.toggle('on', on)
  })
  window.addEventListener('hashchange', route)
  route()
}

start()

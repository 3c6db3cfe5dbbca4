'use strict'
// The dashboard under `/ui`: its files (no token: they hold no data), and the few reads
// the page needs beyond the API (`/ui/api/…`, behind the API's token). Every action the
// page takes (cancel, retry, remove, pause, run) goes through the API's own routes.

const { HttpError } = require('./respond.js')
const { sendAsset } = require('./ui-assets.js')
const { streamEvents } = require('./ui-events.js')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const WORKFLOW_TASK = 'taskloom-workflow'

function iso(d) {
  return d == null ? null : d.toISOString()
}

/** Everything the overview shows, in one read: queues, tasks and their policies, workers, schedules. */
async function overview(ex) {
  const [queues, metrics, schedules] = await Promise.all([ex.queues(), ex.metrics(), ex.schedules()])
  const workers = new Map()
  const tasks = ex.tasks().map((def) => {
    for (const w of def.workers ?? []) {
      const known = workers.get(w.id)
      if (known === undefined) workers.set(w.id, { id: w.id, pid: w.pid, alive: w.alive, lastSeenAt: iso(w.lastSeenAt), tasks: [def.name] })
      else {
        known.tasks.push(def.name)
        if (w.lastSeenAt !== null && iso(w.lastSeenAt) > (known.lastSeenAt ?? '')) known.lastSeenAt = iso(w.lastSeenAt)
        known.alive ||= w.alive
      }
    }
    const breaker = def.circuitBreaker === null ? null : ex.breaker(def.name) ?? null
    const m = metrics.tasks[def.name]
    return {
      name: def.name,
      queue: def.queue,
      description: def.description,
      tags: def.tags,
      signature: def.signature,
      params: def.params,
      priority: def.priority,
      maxParallel: def.maxParallel,
      rateLimit: def.rateLimit,
      circuitBreaker: def.circuitBreaker,
      breaker: breaker && { ...breaker, openedAt: iso(breaker.openedAt), nextTryAt: iso(breaker.nextTryAt) },
      running: m?.running ?? 0,
      rateLimited: m?.rateLimited ?? 0,
      completed: m?.completed ?? 0,
      failed: m?.failed ?? 0,
      here: ex.has(def.name),
    }
  })
  return {
    now: new Date().toISOString(),
    storeKind: ex.storeKind,
    workerId: ex.workerId,
    queues,
    tasks,
    workers: [...workers.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
    schedules: schedules.map((s) => ({ ...s, nextRunAt: iso(s.nextRunAt), createdAt: iso(s.createdAt) })),
  }
}

/**
 * Everything the task page shows: the task's info (payload, result, error with its
 * stack, logs, timestamps), its saved artifacts, and for a workflow its spec and its
 * members with their states.
 */
async function taskDetail(ex, id) {
  if (!UUID.test(id)) throw new HttpError(400, `'${id}' is not a task id (expected a UUID)`)
  let info
  try {
    info = await ex.task(id).info()
  } catch (err) {
    if (err.code === 'ERR_TASK_NOT_FOUND') throw new HttpError(404, `Task ${id} not found`)
    throw err
  }
  const artifacts = await ex.artifacts(info.id)
  const workflow = info.name === WORKFLOW_TASK ? { spec: info.payload, members: await ex.workflow(info.id).members() } : null
  return { info, artifacts, workflow }
}

/** `?q=`: a task id, or the idempotency key a task was submitted with → `{ id }`, or 404. */
async function find(ex, q) {
  if (typeof q !== 'string' || q.trim() === '') throw new HttpError(400, 'query parameter `q` (a task id or key) is required')
  const text = q.trim()
  if (UUID.test(text)) {
    try {
      return { id: (await ex.task(text).info()).id }
    } catch (err) {
      if (err.code !== 'ERR_TASK_NOT_FOUND') throw err
    }
  }
  const id = ex._idByKey(text)
  if (id === null) throw new HttpError(404, `no task has the id or key '${text}'`)
  return { id }
}

/**
 * Answers a path under `/ui`, or returns false for one it does not know. `authorized()`
 * says whether the request carries the API's token; `ok` sends a JSON answer.
 */
async function serveUi(ctx, path, authorized) {
  const { ex, req, res, url, headers, base } = ctx
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new HttpError(405, 'Method Not Allowed', { allow: 'GET' })
  }
  if (path === '/ui') {
    // Relative asset paths resolve under /ui/.
    res.writeHead(308, { ...headers, location: `${base}/ui/` })
    res.end()
    return true
  }
  if (!path.startsWith('/ui/api/')) {
    const name = path === '/ui/' ? 'index.html' : path.slice('/ui/'.length)
    return sendAsset(req, res, name, headers)
  }
  if (!authorized()) {
    throw new HttpError(401, 'a valid bearer token is required (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' })
  }
  const route = path.slice('/ui/api'.length)
  if (route === '/overview') return { status: 200, body: await overview(ex) }
  if (route === '/events') {
    await streamEvents(ctx)
    return undefined
  }
  if (route === '/find') return { status: 200, body: await find(ex, url.searchParams.get('q')) }
  const m = /^\/tasks\/([^/]+)$/.exec(route)
  if (m !== null) return { status: 200, body: await taskDetail(ex, decodeURIComponent(m[1])) }
  return false
}

module.exports = { serveUi, overview }

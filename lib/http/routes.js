'use strict'
// The routes of the HTTP API: chapkit's (tasks, jobs, artifacts, health) and taskloom's
// management routes. Each route is `[method, pattern, handler]`; a handler gets
// `(ctx, params)` with `ctx = { ex, req, res, url, body() }` and returns
// `{ status, body, headers }` (or takes the response over, as the event stream does).

const { HttpError } = require('./respond.js')
const { STATE_OF, FINISHED, taskView, jobView, resultArtifactView, savedArtifactView } = require('./views.js')
const { streamJob } = require('./stream.js')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const ARTIFACT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([1-9][0-9]{0,8})$/i
const NAME = '([A-Za-z0-9_-]{1,128})'

const ok = (body, headers) => ({ status: 200, body, headers })

function jobId(text) {
  if (!UUID.test(text)) throw new HttpError(400, `'${text}' is not a job id (expected a UUID)`)
  return text.toLowerCase()
}

/** The task's info, or a 404 for an id this store does not hold. */
async function infoOf(ex, id) {
  try {
    return await ex.task(id).info()
  } catch (err) {
    if (err.code === 'ERR_TASK_NOT_FOUND') throw new HttpError(404, 'Job not found')
    throw err
  }
}

function definition(ex, name) {
  const def = ex.info(name)
  if (def === undefined || name === '__taskloom_workflow') throw new HttpError(404, `Task '${name}' not found in registry`)
  return def
}

/** Query parameters a route does not know are a 400, not silently ignored. */
function query(url, known) {
  const out = {}
  for (const [k, v] of url.searchParams) {
    if (!known.includes(k)) throw new HttpError(400, `unknown query parameter '${k}' (expected ${known.length ? known.join(', ') : 'none'})`)
    out[k] = v
  }
  return out
}

function wholeNumber(text, what, min, max) {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!/^[0-9]+$/.test(text) || n < min || n > max) throw new HttpError(400, `\`${what}\` must be a whole number from ${min} to ${max}, got '${text}'`)
  return n
}

/** A submit that the engine refused for its input is the client's 400. */
function asClientError(err) {
  if (err.code === 'ERR_INVALID_PARAMS') {
    return new HttpError(400, err.message, {}, { errors: err.issues })
  }
  if (err instanceof TypeError || err instanceof RangeError) return new HttpError(400, err.message)
  return err
}

/** A body that is missing is `{}`; one that is JSON `null` is not an object. */
async function bodyObject(body) {
  const b = await body()
  return b === undefined ? {} : b
}

/** The longest delay the OpenAPI document promises to accept (about 126,000 years). */
const MAX_DELAY_MS = 4e15

const EXECUTE_KEYS = ['params', 'options']
const SUBMIT_OPTIONS = ['priority', 'delayMs', 'key', 'queue']

async function execute({ ex, body, base }, [name]) {
  const def = definition(ex, name)
  const b = await bodyObject(body)
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new HttpError(400, 'the request body must be a JSON object: { "params": { … } }')
  const unknown = Object.keys(b).filter((k) => !EXECUTE_KEYS.includes(k))
  if (unknown.length > 0) throw new HttpError(400, `unknown body field '${unknown[0]}' (expected params, options)`)
  const params = b.params ?? {}
  if (typeof params !== 'object' || Array.isArray(params)) throw new HttpError(400, '`params` must be an object of the task\'s parameters, or null')
  const options = b.options ?? {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new HttpError(400, '`options` must be an object')
  const badOption = Object.keys(options).find((k) => !SUBMIT_OPTIONS.includes(k))
  if (badOption !== undefined) throw new HttpError(400, `unknown option '${badOption}' (expected ${SUBMIT_OPTIONS.join(', ')})`)
  if (options.delayMs !== undefined && !(Number.isInteger(options.delayMs) && options.delayMs >= 0 && options.delayMs <= MAX_DELAY_MS)) {
    throw new HttpError(400, `\`delayMs\` must be a whole number of ms from 0 to ${MAX_DELAY_MS}, got ${JSON.stringify(options.delayMs)}`)
  }
  const nullOption = Object.keys(options).find((k) => options[k] === null)
  if (nullOption !== undefined) throw new HttpError(400, `option \`${nullOption}\` is null: leave it out instead`)
  let handle
  try {
    handle = await ex.submit(def.name, params, options)
  } catch (err) {
    throw asClientError(err)
  }
  return {
    status: 202,
    body: { job_id: handle.id, message: `Task '${def.name}' submitted for execution. Job ID: ${handle.id}` },
    headers: { location: `${base}/api/v1/jobs/${handle.id}` },
  }
}

async function listJobs({ ex, url, base }) {
  const q = query(url, ['status_filter', 'state', 'task_name', 'queue', 'limit', 'cursor', 'order'])
  for (const k of ['task_name', 'queue']) {
    if (q[k] !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(q[k])) throw new HttpError(400, `\`${k}\` must be a task or queue name (letters, digits, '_' and '-'), got '${q[k]}'`)
  }
  let state
  if (q.status_filter !== undefined) {
    state = STATE_OF[q.status_filter]
    if (state === undefined) throw new HttpError(400, `\`status_filter\` must be one of ${Object.keys(STATE_OF).join(', ')}, got '${q.status_filter}'`)
  }
  if (q.state !== undefined) state = q.state
  const options = { state, name: q.task_name, queue: q.queue, limit: wholeNumber(q.limit, 'limit', 1, 1000), cursor: q.cursor, order: q.order }
  for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k]
  let page
  try {
    page = await ex.list(options)
  } catch (err) {
    throw asClientError(err)
  }
  const headers = {}
  if (page.cursor != null) {
    const next = new URL(url)
    next.searchParams.set('cursor', page.cursor)
    headers.link = `<${base}${next.pathname}${next.search}>; rel="next"`
    headers['x-next-cursor'] = page.cursor
  }
  return ok(page.tasks.map(jobView), headers)
}

async function cancelJob({ ex }, [id]) {
  const handle = ex.task(jobId(id))
  const info = await infoOf(ex, handle.id)
  if (FINISHED.has(info.state)) {
    throw new HttpError(409, `Job ${handle.id} already finished (${jobView(info).status}): nothing to cancel`)
  }
  await handle.cancel()
  return { status: 204 }
}

/** Runs a task action: an unknown job is a 404, a state that does not allow it a 409. */
async function jobAction(action) {
  try {
    return await action()
  } catch (err) {
    if (err.code === 'ERR_TASK_NOT_FOUND') throw new HttpError(404, 'Job not found')
    if (err.code === 'ERR_TASK_STATE') throw new HttpError(409, err.message)
    throw err
  }
}

async function retryJob({ ex }, [id]) {
  const handle = await jobAction(() => ex.retry(jobId(id)))
  return { status: 202, body: jobView(await infoOf(ex, handle.id)) }
}

async function removeJob({ ex }, [id]) {
  await jobAction(() => ex.remove(jobId(id)))
  return { status: 204 }
}

/** The bounds the OpenAPI document gives, beyond what ex.clean() checks. */
const CLEAN_BOUNDS = { olderThanMs: [0, 3153600000000], limit: [1, 1e9] }

async function clean({ ex, body }) {
  const filter = await bodyObject(body)
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new HttpError(400, 'the body must be a JSON object: { state, olderThanMs, name, queue, limit }')
  const nullField = Object.keys(filter).find((k) => filter[k] === null)
  if (nullField !== undefined) throw new HttpError(400, `\`${nullField}\` is null: leave it out instead`)
  for (const [k, [min, max]] of Object.entries(CLEAN_BOUNDS)) {
    const v = filter[k]
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) throw new HttpError(400, `\`${k}\` must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`)
  }
  try {
    return ok({ removed: await ex.clean(filter) })
  } catch (err) {
    throw asClientError(err)
  }
}

async function listArtifacts({ ex, url }) {
  const q = query(url, ['task'])
  if (q.task === undefined) throw new HttpError(400, 'query parameter `task` is required: /api/v1/artifacts?task=<job id>')
  const info = await infoOf(ex, jobId(q.task))
  const saved = (await ex.artifacts(info.id)).map(savedArtifactView)
  return ok(FINISHED.has(info.state) ? [resultArtifactView(info), ...saved] : saved)
}

async function getArtifact({ ex }, [id]) {
  if (UUID.test(id)) {
    let info
    try {
      info = await infoOf(ex, id.toLowerCase())
    } catch (err) {
      if (err.status === 404) throw new HttpError(404, `Artifact ${id} not found`)
      throw err
    }
    if (!FINISHED.has(info.state)) throw new HttpError(404, `Artifact ${id} not found: job ${info.id} has not finished`)
    return ok(resultArtifactView(info))
  }
  if (!ARTIFACT.test(id)) throw new HttpError(400, `'${id}' is not an artifact id (expected a job id, or '<job id>.<n>')`)
  const a = await ex.artifact(id)
  if (a === undefined) throw new HttpError(404, `Artifact ${id} not found`)
  return ok(savedArtifactView(a))
}

async function queueAction({ ex }, [name, action]) {
  if (action === 'drain') return ok({ drained: await ex.drain(name) })
  if (action === 'pause') await ex.pauseQueue(name)
  else await ex.resumeQueue(name)
  const q = (await ex.queues()).find((q) => q.name === name)
  return ok(q ?? { name, paused: action === 'pause', counts: {} })
}

async function scheduleAction({ ex }, [id, action]) {
  const known = (await ex.schedules()).some((s) => s.id === id)
  if (!known) throw new HttpError(404, `Schedule '${id}' not found`)
  return ok(action === 'pause' ? await ex.pauseSchedule(id) : await ex.resumeSchedule(id))
}

const ROUTES = [
  ['GET', /^\/health$/, async ({ ex }) => {
    await ex.counts()
    return ok({ status: 'healthy', checks: { store: { state: 'healthy' } } })
  }],
  ['GET', /^\/api\/v1\/tasks$/, async ({ ex, url }) => {
    const q = query(url, ['tags'])
    const tags = q.tags === undefined ? [] : q.tags.split(',').map((t) => t.trim()).filter((t) => t !== '')
    return ok(ex.tasks({ tags }).map(taskView).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
  }],
  ['GET', new RegExp(`^/api/v1/tasks/${NAME}$`), async ({ ex }, [name]) => ok(taskView(definition(ex, name)))],
  ['POST', new RegExp(`^/api/v1/tasks/${NAME}/\\$execute$`), execute],
  ['GET', /^\/api\/v1\/jobs$/, listJobs],
  ['POST', /^\/api\/v1\/jobs\/\$clean$/, clean],
  ['GET', /^\/api\/v1\/jobs\/([^/$][^/]*)$/, async ({ ex }, [id]) => ok(jobView(await infoOf(ex, jobId(id))))],
  ['DELETE', /^\/api\/v1\/jobs\/([^/$][^/]*)$/, cancelJob],
  ['GET', /^\/api\/v1\/jobs\/([^/$][^/]*)\/\$stream$/, async (ctx, [id]) => {
    const q = query(ctx.url, ['poll_interval'])
    const interval = q.poll_interval === undefined ? 1 : Number(q.poll_interval)
    if (!(interval >= 0.05 && interval <= 60)) throw new HttpError(400, `\`poll_interval\` must be seconds from 0.05 to 60, got '${q.poll_interval}'`)
    const info = await infoOf(ctx.ex, jobId(id))
    return streamJob(ctx, info, interval * 1000, () => infoOf(ctx.ex, info.id))
  }],
  ['POST', /^\/api\/v1\/jobs\/([^/$][^/]*)\/\$retry$/, retryJob],
  ['POST', /^\/api\/v1\/jobs\/([^/$][^/]*)\/\$remove$/, removeJob],
  ['GET', /^\/api\/v1\/artifacts$/, listArtifacts],
  ['GET', /^\/api\/v1\/artifacts\/([^/]+)$/, getArtifact],
  ['GET', /^\/api\/v1\/counts$/, async ({ ex }) => ok(await ex.counts())],
  ['GET', /^\/api\/v1\/queues$/, async ({ ex }) => ok(await ex.queues())],
  ['POST', new RegExp(`^/api/v1/queues/${NAME}/\\$(pause|resume|drain)$`), queueAction],
  ['GET', /^\/api\/v1\/schedules$/, async ({ ex }) => ok((await ex.schedules()).map(scheduleView))],
  ['POST', /^\/api\/v1\/schedules\/([^/]+)\/\$(pause|resume)$/, async (ctx, [id, action]) => {
    const r = await scheduleAction(ctx, [decodeURIComponent(id), action])
    return ok(scheduleView(r.body))
  }],
  ['GET', /^\/metrics$/, async ({ ex }) => ({
    status: 200,
    text: await ex.metricsText(),
    headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
  })],
]

function scheduleView(s) {
  const out = {}
  for (const [k, v] of Object.entries(s)) out[k] = v instanceof Date ? v.toISOString() : v
  return out
}

/** The route for a method and path: `{ handler, params }`, `{ allow }` for a known path with another method, or undefined. */
function match(method, path) {
  const allow = []
  for (const [m, pattern, handler] of ROUTES) {
    const found = pattern.exec(path)
    if (found === null) continue
    if (m === method || (m === 'GET' && method === 'HEAD')) return { handler, params: found.slice(1) }
    allow.push(m)
  }
  return allow.length > 0 ? { allow } : undefined
}

module.exports = { match, ROUTES }

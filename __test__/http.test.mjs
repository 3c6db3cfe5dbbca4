// The HTTP API (taskloom/http) against chapkit's contract and past it, on whichever
// store the run uses: every route and status code, bad and huge bodies, bad ids, the
// token, CORS, an Express app, and a producer-only API in front of a worker process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { Executor } from '../index.mjs'
import { createHandler, serve } from '../http.mjs'
import { placesForThisFile, storeOptions } from './support/places.mjs'
import { sleep, until, startReady } from './support/processes.mjs'
import { suiteStore } from './support/suite-store.mjs'
import { registerSeedTasks as registerSeed } from '../examples/seed-tasks.mjs'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TERMINAL = ['completed', 'failed', 'canceled']

/** The seed's tasks, and two of these tests' own, registered on `ex`. */
function registerSeedTasks(ex) {
  registerSeed(ex)
  ex.register('slow_task', async ({ seconds }, ctx) => {
    ctx.progress(10, 'started')
    await new Promise((resolve) => {
      const t = setTimeout(resolve, seconds * 1000)
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t)
        resolve()
      })
    })
    return 'done'
  }, { params: { seconds: 'number' } })
  ex.register('steps', async (_p, ctx) => {
    await ctx.saveArtifact({ step: 1 }, { tags: ['partial'] })
    await ctx.saveArtifact({ step: 2 })
    return ctx.services.greeting
  })
}

async function call(base, method, path, { body, headers = {}, raw } = {}) {
  const init = { method, headers: { ...headers } }
  if (raw !== undefined) init.body = raw
  else if (body !== undefined) {
    init.body = JSON.stringify(body)
    init.headers['content-type'] = 'application/json'
  }
  const res = await fetch(base + path, { ...init, redirect: 'manual' })
  const text = await res.text()
  let json
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, json, text }
}

async function waitForJob(base, id, headers) {
  for (let i = 0; i < 400; i++) {
    const r = await call(base, 'GET', `/api/v1/jobs/${id}`, { headers })
    assert.equal(r.status, 200, r.text)
    if (TERMINAL.includes(r.json.status)) return r.json
    await sleep(10)
  }
  throw new Error(`job ${id} did not finish`)
}

async function withServer(fn, { exOptions = {}, serveOptions = {} } = {}) {
  const ex = new Executor({ services: { greeting: 'hi' }, ...exOptions })
  registerSeedTasks(ex)
  const server = await serve(ex, { port: 0, ...serveOptions })
  try {
    await fn(server.url, ex)
  } finally {
    await server.close()
    await ex.close()
  }
}

test('the registry: TaskInfo sorted by name, ?tags= requiring every tag, one task, 404, the trailing-slash redirect', () =>
  withServer(async (base) => {
    const all = await call(base, 'GET', '/api/v1/tasks')
    assert.equal(all.status, 200)
    assert.match(all.headers.get('content-type'), /^application\/json/)
    assert.deepEqual(all.json.map((t) => t.name), ['add', 'failing_task', 'greet_user', 'slow_task', 'steps'])
    const greet = all.json.find((t) => t.name === 'greet_user')
    assert.deepEqual(
      { ...greet, params: undefined, queue: undefined },
      {
        name: 'greet_user',
        docstring: 'Simple task that returns a greeting.',
        signature: '(name?: string = "World")',
        parameters: [{ name: 'name', annotation: 'string', default: 'World', required: false }],
        tags: ['demo', 'simple'],
        params: undefined,
        queue: undefined,
      },
    )
    assert.equal(greet.queue, 'default')
    assert.equal(greet.params.type, 'object')
    assert.deepEqual((await call(base, 'GET', '/api/v1/tasks?tags=math')).json.map((t) => t.name), ['add'])
    assert.deepEqual((await call(base, 'GET', '/api/v1/tasks?tags=demo,simple')).json.map((t) => t.name), ['greet_user'])
    assert.deepEqual((await call(base, 'GET', '/api/v1/tasks?tags=demo')).json.map((t) => t.name), ['failing_task', 'greet_user'])
    assert.deepEqual((await call(base, 'GET', '/api/v1/tasks?tags=nope')).json, [])
    assert.equal((await call(base, 'GET', '/api/v1/tasks?tag=math')).status, 400)

    const one = await call(base, 'GET', '/api/v1/tasks/add')
    assert.equal(one.status, 200)
    assert.deepEqual(one.json.parameters, [
      { name: 'a', annotation: 'integer', default: null, required: true },
      { name: 'b', annotation: 'integer', default: null, required: true },
    ])
    const missing = await call(base, 'GET', '/api/v1/tasks/nope')
    assert.equal(missing.status, 404)
    assert.deepEqual(missing.json, { detail: "Task 'nope' not found in registry" })
    const slash = await call(base, 'GET', '/api/v1/tasks/')
    assert.equal(slash.status, 307)
    assert.equal(slash.headers.get('location'), '/api/v1/tasks')
    assert.equal((await call(base, 'GET', '/nowhere')).status, 404)
    assert.equal((await call(base, 'GET', '/health')).json.status, 'healthy')
  }))

test('$execute: 202 with a job id; the job completes with its result and artifact; defaults apply', () =>
  withServer(async (base) => {
    for (const body of [{}, undefined, { params: null }, { params: { name: 'Alice' } }]) {
      const r = await call(base, 'POST', '/api/v1/tasks/greet_user/$execute', body === undefined ? {} : { body })
      assert.equal(r.status, 202, r.text)
      assert.match(r.json.job_id, UUID)
      assert.equal(r.json.message, `Task 'greet_user' submitted for execution. Job ID: ${r.json.job_id}`)
      assert.equal(r.headers.get('location'), `/api/v1/jobs/${r.json.job_id}`)
      const job = await waitForJob(base, r.json.job_id)
      const who = body?.params?.name ?? 'World'
      assert.equal(job.status, 'completed')
      assert.deepEqual(job.result, { message: `Hello, ${who}!` })
      assert.equal(job.artifact_id, job.id)
      assert.equal(job.task_name, 'greet_user')
      for (const k of ['submitted_at', 'started_at', 'finished_at']) assert.match(job[k], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.equal(job.error, null)
      const art = await call(base, 'GET', `/api/v1/artifacts/${job.artifact_id}`)
      assert.equal(art.status, 200)
      assert.deepEqual(art.json.data, { task_name: 'greet_user', params: body?.params ?? {}, result: { message: `Hello, ${who}!` }, error: null })
      assert.equal(art.json.parent_id, null)
      assert.equal(art.json.level, 0)
    }
    const add = await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 5, b: 3 }, options: { priority: 2 } } })
    assert.equal(add.status, 202)
    assert.deepEqual((await waitForJob(base, add.json.job_id)).result, { result: 8 })
  }))

test('$execute refuses bad params with 400 and the validator\'s messages, and enqueues nothing', () =>
  withServer(async (base, ex) => {
    const before = JSON.stringify((await ex.counts()).total)
    const missing = await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 5 } } })
    assert.equal(missing.status, 400)
    assert.match(missing.json.detail, /task 'add' does not match its params/)
    assert.deepEqual(missing.json.errors, [{ path: '/', message: '"b" is a required property' }])
    const wrongType = await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 'x', b: 3 } } })
    assert.equal(wrongType.status, 400)
    assert.equal(wrongType.json.errors[0].path, '/a')
    assert.match(wrongType.json.errors[0].message, /integer/)
    const extra = await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 1, b: 2, c: 3 } } })
    assert.equal(extra.status, 400)
    assert.match(extra.json.errors[0].message, /Additional properties|'c'|"c"/)
    const badOption = await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 1, b: 2 }, options: { priority: 'high' } } })
    assert.equal(badOption.status, 400)
    assert.match(badOption.json.detail, /priority/)

    const bodies = [
      [{ raw: '{"params":', headers: { 'content-type': 'application/json' } }, 400, /not valid JSON/],
      [{ body: { params: 'x' } }, 400, /`params` must be an object/],
      [{ body: [] }, 400, /must be a JSON object/],
      [{ body: { parameters: { a: 1 } } }, 400, /unknown body field 'parameters'/],
      [{ raw: 'a=1', headers: { 'content-type': 'text/plain' } }, 415, /must be JSON/],
    ]
    for (const [req, status, detail] of bodies) {
      const r = await call(base, 'POST', '/api/v1/tasks/add/$execute', req)
      assert.equal(r.status, status, `${JSON.stringify(req)}: ${r.text}`)
      assert.match(r.json.detail, detail)
    }
    const unknown = await call(base, 'POST', '/api/v1/tasks/nope/$execute', { body: {} })
    assert.equal(unknown.status, 404)
    assert.deepEqual(unknown.json, { detail: "Task 'nope' not found in registry" })
    const get = await call(base, 'GET', '/api/v1/tasks/add/$execute')
    assert.equal(get.status, 405)
    assert.equal(get.headers.get('allow'), 'POST')
    assert.equal(JSON.stringify((await ex.counts()).total), before, 'nothing was enqueued')
  }))

test('a task that throws ends failed with its error; a cancelled job ends canceled and stays readable', () =>
  withServer(async (base) => {
    const r = await call(base, 'POST', '/api/v1/tasks/failing_task/$execute', { body: {} })
    const job = await waitForJob(base, r.json.job_id)
    assert.equal(job.status, 'failed')
    assert.equal(job.state, 'FAILURE')
    assert.equal(job.error, 'Something went wrong')
    assert.equal(job.error_type, 'RangeError')
    assert.match(job.error_traceback, /RangeError: Something went wrong\n\s+at /)
    assert.equal(job.result, null)
    const art = await call(base, 'GET', `/api/v1/artifacts/${job.artifact_id}`)
    assert.equal(art.json.data.error.type, 'RangeError')
    assert.equal(art.json.data.error.message, 'Something went wrong')
    assert.match(art.json.data.error.traceback, /Something went wrong/)

    const slow = await call(base, 'POST', '/api/v1/tasks/slow_task/$execute', { body: { params: { seconds: 30 } } })
    const id = slow.json.job_id
    await until(async () => (await call(base, 'GET', `/api/v1/jobs/${id}`)).json.status === 'running', 10_000, 'slow_task to start')
    const running = (await call(base, 'GET', `/api/v1/jobs/${id}`)).json
    assert.equal(running.finished_at, null)
    assert.equal(running.artifact_id, null)
    assert.equal((await call(base, 'GET', `/api/v1/artifacts/${id}`)).status, 404)
    const del = await call(base, 'DELETE', `/api/v1/jobs/${id}`)
    assert.equal(del.status, 204)
    const canceled = await waitForJob(base, id)
    assert.equal(canceled.status, 'canceled')
    assert.equal((await call(base, 'DELETE', `/api/v1/jobs/${id}`)).status, 409)
    assert.equal((await call(base, 'DELETE', '/api/v1/jobs/01890a5d-ac96-774b-bcce-b302099a8057')).status, 404)
  }))

test('jobs: list with status_filter, limit and cursor; bad ids are 400, unknown ones 404', () =>
  withServer(async (base) => {
    const ids = []
    for (let i = 0; i < 5; i++) ids.push((await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: i, b: 1 } } })).json.job_id)
    const failed = (await call(base, 'POST', '/api/v1/tasks/failing_task/$execute', { body: {} })).json.job_id
    for (const id of [...ids, failed]) await waitForJob(base, id)
    const completed = await call(base, 'GET', '/api/v1/jobs?status_filter=completed&task_name=add')
    assert.deepEqual(completed.json.map((j) => j.id).sort(), [...ids].sort())
    assert.deepEqual((await call(base, 'GET', '/api/v1/jobs?status_filter=failed')).json.map((j) => j.id), [failed])
    const first = await call(base, 'GET', '/api/v1/jobs?task_name=add&limit=2')
    assert.equal(first.json.length, 2)
    const cursor = first.headers.get('x-next-cursor')
    assert.ok(cursor)
    assert.match(first.headers.get('link'), /rel="next"/)
    const second = await call(base, 'GET', `/api/v1/jobs?task_name=add&limit=2&cursor=${encodeURIComponent(cursor)}`)
    assert.equal(second.json.length, 2)
    assert.equal(new Set([...first.json, ...second.json].map((j) => j.id)).size, 4)
    // Newest first: the same jobs the other way round, paged with its own cursor.
    const newest = await call(base, 'GET', '/api/v1/jobs?task_name=add&limit=3&order=newest')
    assert.deepEqual(newest.json.map((j) => j.id), [ids[4], ids[3], ids[2]])
    const older = await call(base, 'GET', `/api/v1/jobs?task_name=add&order=newest&cursor=${encodeURIComponent(newest.headers.get('x-next-cursor'))}`)
    assert.deepEqual(older.json.map((j) => j.id), [ids[1], ids[0]])
    assert.match((await call(base, 'GET', '/api/v1/jobs?order=sideways')).json.detail, /order.*sideways/)
    assert.equal((await call(base, 'GET', '/api/v1/jobs?status_filter=done')).status, 400)
    assert.equal((await call(base, 'GET', '/api/v1/jobs?limit=0')).status, 400)
    assert.equal((await call(base, 'GET', '/api/v1/jobs?cursor=zzz')).status, 400)
    const bad = await call(base, 'GET', '/api/v1/jobs/not-a-ulid')
    assert.equal(bad.status, 400)
    assert.match(bad.json.detail, /not a job id/)
    assert.deepEqual((await call(base, 'GET', '/api/v1/jobs/01890a5d-ac96-774b-bcce-b302099a8057')).json, { detail: 'Job not found' })
  }))

test('$stream sends the job record on every change until it is terminal', () =>
  withServer(async (base) => {
    const id = (await call(base, 'POST', '/api/v1/tasks/slow_task/$execute', { body: { params: { seconds: 0.3 } } })).json.job_id
    const res = await fetch(`${base}/api/v1/jobs/${id}/$stream?poll_interval=5`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type'), /^text\/event-stream/)
    const text = await res.text() // ends when the job is terminal
    const events = text.split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')))
    assert.ok(events.length >= 2, text)
    assert.equal(events.at(-1).status, 'completed')
    assert.equal(events.at(-1).result, 'done')
    assert.ok(events.some((e) => e.progress === 10 && e.progress_message === 'started'), text)
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${id}/$stream?poll_interval=0`)).status, 400)
    assert.equal((await call(base, 'GET', '/api/v1/jobs/nope/$stream')).status, 400)
  }))

test('artifacts saved inside a task are listed with the job and read by id; services reach HTTP runs', () =>
  withServer(async (base) => {
    const id = (await call(base, 'POST', '/api/v1/tasks/steps/$execute', { body: {} })).json.job_id
    const job = await waitForJob(base, id)
    assert.equal(job.result, 'hi')
    const list = await call(base, 'GET', `/api/v1/artifacts?task=${id}`)
    assert.equal(list.status, 200)
    assert.deepEqual(list.json.map((a) => [a.id, a.parent_id, a.level]), [[id, null, 0], [`${id}.1`, id, 1], [`${id}.2`, id, 1]])
    assert.deepEqual(list.json[1].data, { step: 1 })
    assert.deepEqual(list.json[1].tags, ['partial'])
    const one = await call(base, 'GET', `/api/v1/artifacts/${id}.2`)
    assert.deepEqual(one.json.data, { step: 2 })
    assert.equal((await call(base, 'GET', `/api/v1/artifacts/${id}.3`)).status, 404)
    assert.equal((await call(base, 'GET', '/api/v1/artifacts/not-an-id')).status, 400)
    assert.equal((await call(base, 'GET', '/api/v1/artifacts')).status, 400)
    assert.equal((await call(base, 'GET', '/api/v1/artifacts/01890a5d-ac96-774b-bcce-b302099a8057')).status, 404)
  }))

test('management routes: retry, remove, clean, counts, queues, pause/resume/drain, schedules, metrics, openapi', () =>
  withServer(async (base, ex) => {
    const failed = (await call(base, 'POST', '/api/v1/tasks/failing_task/$execute', { body: {} })).json.job_id
    await waitForJob(base, failed)
    const retried = await call(base, 'POST', `/api/v1/jobs/${failed}/$retry`)
    assert.equal(retried.status, 202)
    assert.equal((await waitForJob(base, failed)).status, 'failed')
    assert.equal((await call(base, 'POST', `/api/v1/jobs/${failed}/$remove`)).status, 204)
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${failed}`)).status, 404)
    assert.equal((await call(base, 'POST', `/api/v1/jobs/${failed}/$retry`)).status, 404)

    const slow = (await call(base, 'POST', '/api/v1/tasks/slow_task/$execute', { body: { params: { seconds: 30 } } })).json.job_id
    assert.equal((await call(base, 'POST', `/api/v1/jobs/${slow}/$remove`)).status, 409)
    await call(base, 'DELETE', `/api/v1/jobs/${slow}`)
    await waitForJob(base, slow)

    const done = (await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 1, b: 1 } } })).json.job_id
    await waitForJob(base, done)
    const counts = await call(base, 'GET', '/api/v1/counts')
    assert.ok(counts.json.total.SUCCESS >= 1)
    const paused = await call(base, 'POST', '/api/v1/queues/default/$pause')
    assert.equal(paused.status, 200)
    assert.equal(paused.json.paused, true)
    const held = (await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 2, b: 2 } } })).json.job_id
    await sleep(100)
    assert.equal((await call(base, 'GET', `/api/v1/jobs/${held}`)).json.status, 'pending')
    assert.deepEqual((await call(base, 'GET', '/api/v1/queues')).json.find((q) => q.name === 'default').paused, true)
    assert.equal((await call(base, 'POST', '/api/v1/queues/default/$drain')).json.drained, 1)
    assert.equal((await call(base, 'POST', '/api/v1/queues/default/$resume')).json.paused, false)

    const cleaned = await call(base, 'POST', '/api/v1/jobs/$clean', { body: { state: 'REVOKED' } })
    assert.equal(cleaned.status, 200)
    assert.equal(cleaned.json.removed, 1)
    assert.equal((await call(base, 'POST', '/api/v1/jobs/$clean', { body: { state: 'PENDING' } })).status, 400)

    const s = await ex.schedule('add', '0 * * * *', { a: 1, b: 2 })
    const list = await call(base, 'GET', '/api/v1/schedules')
    assert.deepEqual(list.json.map((x) => x.id), [s.id])
    assert.match(list.json[0].nextRunAt, /^\d{4}-/)
    const p = await call(base, 'POST', `/api/v1/schedules/${encodeURIComponent(s.id)}/$pause`)
    assert.equal(p.status, 200, p.text)
    assert.equal(p.json.paused, true)
    assert.equal((await call(base, 'POST', '/api/v1/schedules/nope/$resume')).status, 404)

    const metrics = await call(base, 'GET', '/metrics')
    assert.match(metrics.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    assert.match(metrics.text, /taskloom_tasks_completed_total\{[^}]*task="add"/)

    const doc = await call(base, 'GET', '/api/v1/openapi.json')
    assert.equal(doc.json.openapi, '3.1.0')
    assert.deepEqual(doc.json.paths['/api/v1/tasks/add/$execute'].post.requestBody.content['application/json'].schema.properties.params, ex.info('add').params)
    for (const path of ['/api/v1/tasks/add/$execute', '/api/v1/tasks/greet_user/$execute', '/api/v1/jobs/{id}/$stream', '/api/v1/artifacts/{id}', '/api/v1/queues/{name}/$pause', '/metrics', '/health']) {
      assert.ok(doc.json.paths[path], path)
    }
  }))

test('safe by default: the token, body limit, loopback-only without a token, generic 500s, no CORS unless asked', async () => {
  await withServer(async (base) => {
    assert.equal((await call(base, 'GET', '/health')).status, 200, '/health needs no token')
    const none = await call(base, 'GET', '/api/v1/tasks')
    assert.equal(none.status, 401)
    assert.equal(none.headers.get('www-authenticate'), 'Bearer')
    assert.equal((await call(base, 'GET', '/api/v1/tasks', { headers: { authorization: 'Bearer wrong-token' } })).status, 401)
    assert.equal((await call(base, 'GET', '/api/v1/tasks', { headers: { authorization: 'Basic c2VjcmV0LXRva2Vu' } })).status, 401)
    const ok = await call(base, 'GET', '/api/v1/tasks', { headers: { authorization: 'Bearer secret-token' } })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers.get('access-control-allow-origin'), null)
    const huge = await call(base, 'POST', '/api/v1/tasks/add/$execute', {
      headers: { authorization: 'Bearer secret-token' },
      body: { params: { a: 1, b: 2, pad: 'x'.repeat(2048) } },
    })
    assert.equal(huge.status, 413)
  }, { serveOptions: { token: 'secret-token', bodyLimit: 1024 } })

  const ex = new Executor()
  try {
    await assert.rejects(serve(ex, { host: '0.0.0.0', port: 0 }), /would open the API to the network: give a `token`/)
    await assert.rejects(serve(ex, { port: 0, token: 'short' }), /at least 8 characters/)
    await assert.rejects(serve(ex, { port: 'x' }), /`port` must be a whole number/)
    assert.throws(() => createHandler(ex, { tokn: 'x' }), /unknown createHandler\(\) option 'tokn'/)
    const open = await serve(ex, { host: '0.0.0.0', port: 0, token: 'a-long-token' })
    await open.close()

    // An internal failure: a generic 500 with a request id; the cause goes to the log only.
    const logged = []
    const broken = Object.create(ex, { counts: { value: async () => { throw new Error('secret /srv/path detail') } } })
    const server = await serve(broken, { port: 0, logger: (message, err) => logged.push([message, err]) })
    try {
      const r = await call(server.url, 'GET', '/api/v1/counts')
      assert.equal(r.status, 500)
      assert.equal(r.json.detail, 'Internal Server Error')
      assert.match(r.json.request_id, UUID)
      assert.doesNotMatch(r.text, /secret|srv|at /)
      assert.equal(r.headers.get('x-request-id'), r.json.request_id)
      assert.match(logged[0][0], new RegExp(r.json.request_id))
      assert.equal(logged[0][1].message, 'secret /srv/path detail')
    } finally {
      await server.close()
    }

    registerSeedTasks(ex)
    const cors = await serve(ex, { port: 0, cors: { origin: 'https://app.example' } })
    try {
      const pre = await fetch(`${cors.url}/api/v1/tasks`, { method: 'OPTIONS', headers: { origin: 'https://app.example' } })
      assert.equal(pre.status, 204)
      assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example')
      const other = await fetch(`${cors.url}/api/v1/tasks`, { headers: { origin: 'https://evil.example' } })
      assert.equal(other.headers.get('access-control-allow-origin'), null)
      // A configured origin may act; another may not.
      const allowed = await call(cors.url, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 1, b: 2 } }, headers: { origin: 'https://app.example' } })
      assert.equal(allowed.status, 202)
      const refused = await call(cors.url, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 1, b: 2 } }, headers: { origin: 'https://evil.example' } })
      assert.equal(refused.status, 403)
    } finally {
      await cors.close()
    }
  } finally {
    await ex.close()
  }
})

test('cross-site requests that change something are refused (CSRF), without a token too; reads and non-browser clients pass', async () => {
  const ex = new Executor()
  registerSeedTasks(ex)
  const server = await serve(ex, { port: 0 })
  try {
    const host = new URL(server.url).host
    const execute = (headers, raw) => call(server.url, 'POST', '/api/v1/tasks/add/$execute', { raw: raw ?? JSON.stringify({ params: { a: 1, b: 2 } }), headers })
    const before = (await ex.counts()).total
    // A form on another site, a no-cors fetch: the browser says where it comes from.
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site', origin: `http://other.${host}` }, { origin: 'null' }]) {
      const r = await execute({ 'content-type': 'text/plain', ...headers })
      assert.equal(r.status, 403, JSON.stringify(headers))
      assert.match(r.json.detail, /cross-origin/)
    }
    const bodiless = await call(server.url, 'POST', '/api/v1/queues/default/$pause', { headers: { origin: 'https://evil.example' } })
    assert.equal(bodiless.status, 403)
    assert.equal((await ex.queues()).find((q) => q.name === 'default')?.paused ?? false, false, 'nothing changed')
    assert.deepEqual((await ex.counts()).total, before, 'nothing was enqueued')
    // The dashboard on the same origin, a browser's own navigation, curl: accepted.
    assert.equal((await execute({ 'content-type': 'application/json', origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).status, 202)
    assert.equal((await execute({ 'content-type': 'application/json', 'sec-fetch-site': 'none' })).status, 202)
    assert.equal((await execute({ 'content-type': 'application/json' })).status, 202)
    assert.equal((await execute({ 'content-type': 'application/json', origin: `http://${host}` })).status, 202)
    // Reads are not refused (a GET changes nothing).
    assert.equal((await call(server.url, 'GET', '/api/v1/tasks', { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } })).status, 200)
  } finally {
    await server.close()
    await ex.close()
  }
})

test('the dashboard: its files are served under /ui with a strict CSP; its reads need the token; unknown /ui paths are 404', async () => {
  const ex = new Executor()
  registerSeedTasks(ex)
  const server = await serve(ex, { port: 0, token: 'token-for-ui-test' })
  const auth = { authorization: 'Bearer token-for-ui-test' }
  try {
    const redirect = await call(server.url, 'GET', '/ui')
    assert.equal(redirect.status, 308)
    assert.equal(redirect.headers.get('location'), '/ui/')
    const page = await fetch(`${server.url}/ui/`, { headers: { 'accept-encoding': 'gzip' } })
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type'), /text\/html/)
    assert.match(page.headers.get('content-security-policy'), /default-src 'none'/)
    assert.equal(page.headers.get('x-frame-options'), 'DENY')
    const etag = page.headers.get('etag')
    assert.equal((await fetch(`${server.url}/ui/`, { headers: { 'if-none-match': etag } })).status, 304)
    const script = await fetch(`${server.url}/ui/app.js`)
    assert.match(script.headers.get('content-type'), /text\/javascript/)
    assert.equal((await call(server.url, 'GET', '/ui/nothing.js')).status, 404)
    assert.equal((await call(server.url, 'GET', '/ui/../index.js')).status, 404)
    assert.equal((await call(server.url, 'GET', '/ui/%2e%2e%2findex.js')).status, 404)
    assert.equal((await call(server.url, 'POST', '/ui/app.js', { headers: auth })).status, 405)
    assert.equal((await call(server.url, 'GET', '/ui/api/overview')).status, 401)
    const overview = await call(server.url, 'GET', '/ui/api/overview', { headers: auth })
    assert.equal(overview.status, 200)
    assert.deepEqual(overview.json.tasks.map((t) => t.name).sort(), ['add', 'failing_task', 'greet_user', 'slow_task', 'steps'])
    const h = await ex.submit('add', { a: 2, b: 3 }, { key: 'order-77' })
    await h.result()
    assert.deepEqual((await call(server.url, 'GET', '/ui/api/find?q=order-77', { headers: auth })).json, { id: h.id })
    assert.deepEqual((await call(server.url, 'GET', `/ui/api/find?q=${h.id}`, { headers: auth })).json, { id: h.id })
    assert.equal((await call(server.url, 'GET', '/ui/api/find?q=nope', { headers: auth })).status, 404)
    assert.equal((await call(server.url, 'GET', '/ui/api/find', { headers: auth })).status, 400)
    const detail = await call(server.url, 'GET', `/ui/api/tasks/${h.id}`, { headers: auth })
    assert.deepEqual(detail.json.info.result, { result: 5 })
    assert.equal(detail.json.workflow, null)
    assert.equal((await call(server.url, 'GET', '/ui/api/tasks/not-an-id', { headers: auth })).status, 400)
    assert.equal((await call(server.url, 'GET', '/ui/api/tasks/01890a5d-ac96-774b-bcce-b302099a8057', { headers: auth })).status, 404)
    assert.equal((await call(server.url, 'GET', '/ui/api/unknown', { headers: auth })).status, 404)
  } finally {
    await server.close()
    await ex.close()
  }
})

test('mounted in an Express app (after express.json()), and in a plain node:http server', async () => {
  const ex = new Executor()
  registerSeedTasks(ex)
  const app = express()
  app.use(express.json())
  app.use('/svc', createHandler(ex))
  app.get('/other', (_req, res) => res.send('express route'))
  const server = http.createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  try {
    assert.deepEqual((await call(base, 'GET', '/svc/api/v1/tasks?tags=math')).json.map((t) => t.name), ['add'])
    const r = await call(base, 'POST', '/svc/api/v1/tasks/add/$execute', { body: { params: { a: 20, b: 22 } } })
    assert.equal(r.status, 202, r.text)
    assert.deepEqual((await waitForJob(`${base}/svc`, r.json.job_id)).result, { result: 42 })
    const bad = await call(base, 'POST', '/svc/api/v1/tasks/add/$execute', { body: { params: { a: 20 } } })
    assert.equal(bad.status, 400)
    assert.equal(r.headers.get('location'), `/svc/api/v1/jobs/${r.json.job_id}`, 'links carry the mount path')
    assert.equal((await call(base, 'GET', '/other')).text, 'express route')
    assert.equal((await call(base, 'GET', '/svc/not-ours')).status, 404) // Express's own 404, via next()
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
  const plain = http.createServer(createHandler(ex))
  await new Promise((resolve) => plain.listen(0, '127.0.0.1', resolve))
  try {
    const r = await call(`http://127.0.0.1:${plain.address().port}`, 'GET', '/api/v1/tasks/add')
    assert.equal(r.status, 200)
  } finally {
    await new Promise((resolve) => plain.close(resolve))
    await ex.close()
  }
})

test('inside Fastify (basePath, its body parsing left to the handler) and Koa', async () => {
  const ex = new Executor()
  registerSeedTasks(ex)
  const fastify = Fastify()
  const handler = createHandler(ex, { basePath: '/tasks-api' })
  await fastify.register(async (scope) => {
    // The handler reads the body itself: Fastify must leave the stream unread.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null))
    scope.all('/*', (req, reply) => {
      reply.hijack()
      handler(req.raw, reply.raw)
    })
  }, { prefix: '/tasks-api' })
  fastify.get('/own', async () => ({ own: true }))
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const koa = new Koa()
  const koaHandler = createHandler(ex)
  koa.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/api/')) return next()
    ctx.respond = false
    koaHandler(ctx.req, ctx.res)
  })
  koa.use((ctx) => {
    ctx.body = 'koa route'
  })
  const koaServer = koa.listen(0, '127.0.0.1')
  await new Promise((resolve) => koaServer.once('listening', resolve))
  try {
    const fb = `http://127.0.0.1:${fastify.server.address().port}/tasks-api`
    const r = await call(fb, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 2, b: 3 } } })
    assert.equal(r.status, 202, r.text)
    assert.equal(r.headers.get('location'), `/tasks-api/api/v1/jobs/${r.json.job_id}`)
    assert.deepEqual((await waitForJob(fb, r.json.job_id)).result, { result: 5 })
    assert.equal((await call(fb, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 2 } } })).status, 400)
    assert.deepEqual((await call(fb, 'GET', '/api/v1/openapi.json')).json.servers, [{ url: '/tasks-api' }])
    const page = await call(fb, 'GET', '/api/v1/jobs?limit=1')
    assert.equal(page.headers.get('link'), null, 'one job: no next page')
    assert.deepEqual((await call(`http://127.0.0.1:${fastify.server.address().port}`, 'GET', '/own')).json, { own: true })

    const kb = `http://127.0.0.1:${koaServer.address().port}`
    const k = await call(kb, 'POST', '/api/v1/tasks/greet_user/$execute', { body: { params: { name: 'Koa' } } })
    assert.equal(k.status, 202, k.text)
    assert.deepEqual((await waitForJob(kb, k.json.job_id)).result, { message: 'Hello, Koa!' })
    assert.equal((await call(kb, 'GET', '/elsewhere')).text, 'koa route')
  } finally {
    await fastify.close()
    await new Promise((resolve) => koaServer.close(resolve))
    await ex.close()
  }
  assert.throws(() => createHandler(ex, { basePath: 'tasks/' }), /`basePath` must be a path such as '\/tasks-api'/)
})

// A producer-only process serves the API; a worker process runs the tasks.
if (suiteStore === 'memory') {
  const fixture = fileURLToPath(new URL('./fixtures/http-worker.mjs', import.meta.url))
  const { place } = placesForThisFile('http')
  for (const kind of ['sqlite', 'redis']) {
    test(`${kind}: a producer-only API in front of a worker process: registry, params, jobs, artifacts, stream, cancel`, async () => {
      const p = place(kind)
      const { child: worker, exited } = await startReady(fixture, [p.store, p.namespace])
      const ex = new Executor({ ...storeOptions(p), worker: false })
      const server = await serve(ex, { port: 0 })
      const base = server.url
      try {
        const tasks = (await call(base, 'GET', '/api/v1/tasks')).json
        assert.deepEqual(tasks.map((t) => t.name), ['add', 'slow'])
        assert.equal(tasks[0].docstring, 'Adds two integers.')
        assert.equal(tasks[0].signature, '(a: integer, b: integer)')
        const bad = await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 1 } } })
        assert.equal(bad.status, 400, 'the worker\'s schema is checked in the producer')
        const r = await call(base, 'POST', '/api/v1/tasks/add/$execute', { body: { params: { a: 40, b: 2 } } })
        assert.equal(r.status, 202)
        const stream = await (await fetch(`${base}/api/v1/jobs/${r.json.job_id}/$stream?poll_interval=10`)).text()
        const last = JSON.parse(stream.trim().split('\n\n').at(-1).replace(/^data: /, ''))
        assert.equal(last.status, 'completed')
        assert.deepEqual(last.result, { result: 42, pid: worker.pid })
        const arts = (await call(base, 'GET', `/api/v1/artifacts?task=${r.json.job_id}`)).json
        assert.deepEqual(arts.map((a) => a.data), [
          { task_name: 'add', params: { a: 40, b: 2 }, result: { result: 42, pid: worker.pid }, error: null },
          { partial: 40, pid: worker.pid },
        ])
        const slow = (await call(base, 'POST', '/api/v1/tasks/slow/$execute', { body: { params: { ms: 60_000 } } })).json.job_id
        await until(async () => (await call(base, 'GET', `/api/v1/jobs/${slow}`)).json.status === 'running', 10_000, 'slow to start in the worker')
        assert.equal((await call(base, 'DELETE', `/api/v1/jobs/${slow}`)).status, 204)
        assert.equal((await waitForJob(base, slow)).status, 'canceled')
        assert.equal((await call(base, 'POST', '/api/v1/tasks/nope/$execute', { body: {} })).status, 404)
      } finally {
        await server.close()
        await ex.close()
        worker.kill('SIGTERM')
        await exited
      }
    })
  }
}

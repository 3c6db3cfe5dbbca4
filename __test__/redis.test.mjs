// The Redis store across processes: workers in other OS processes run what a
// producer-only executor submits; results, cancels and progress cross process
// boundaries; a worker killed with SIGKILL loses nothing; limits hold across processes;
// a Redis restart loses nothing. Every test uses its own redis-server on a free port.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Executor, StoreError } from '../index.mjs'
import { startRedis } from './support/redis-server.mjs'
import { sleep, until, lines, spawnNode } from './support/processes.mjs'

const fixture = fileURLToPath(new URL('./fixtures/redis-worker.mjs', import.meta.url))
let redis
let namespaces = 0

before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

function place() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-redis-test-'))
  return { dir, log: path.join(dir, 'runs.log'), namespace: `t${process.pid}-${++namespaces}` }
}

function startWorker(server, p, { concurrency = 8, leaseMs = 30_000, mode = 'run', count = 0 } = {}) {
  const args = [fixture, server.url, p.namespace, p.log, concurrency, leaseMs, mode, count]
  const child = spawnNode(args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] })
  child.stdoutText = ''
  child.stdout.on('data', (d) => (child.stdoutText += d))
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return child
}


function runsById(log) {
  const byId = new Map()
  for (const [what, id, pid] of lines(log)) {
    if (what !== 'run') continue
    if (!byId.has(id)) byId.set(id, [])
    byId.get(id).push(Number(pid))
  }
  return byId
}


function producer(server, p, options = {}) {
  const ex = new Executor({ store: server.url, namespace: p.namespace, worker: false, ...options })
  for (const name of ['work', 'watched', 'limited', 'rated']) ex.register(name, () => {})
  return ex
}

test('a producer-only executor submits; workers in other processes run the tasks exactly once; result() resolves from afar', async () => {
  const p = place()
  const ex = producer(redis, p)
  const N = 1500
  const handles = await ex.submitMany('work', Array.from({ length: N }, (_, i) => i))
  const awaited = Promise.all(handles.slice(0, 50).map((h) => h.result()))
  const workers = [1, 2, 3].map(() => startWorker(redis, p, { concurrency: 4 }))
  assert.deepEqual(await awaited, Array.from({ length: 50 }, (_, i) => i * 2))
  for (const w of workers) assert.equal((await w.exited).code, 0)
  const ran = runsById(p.log)
  assert.equal(ran.size, N)
  for (const [id, pids] of ran) assert.equal(pids.length, 1, `task ${id} ran ${pids.length} times`)
  const perWorker = workers.map((w) => [...ran.values()].filter((pids) => pids[0] === w.pid).length)
  assert.ok(perWorker.every((n) => n > 0), `every worker took a share: ${perWorker}`)
  const counts = await ex.counts()
  assert.equal(counts.total.SUCCESS, N)
  assert.equal(await ex.task(handles[N - 1].id).result(), (N - 1) * 2)
  await ex.close()
  fs.rmSync(p.dir, { recursive: true, force: true })
})

test('a worker killed with SIGKILL mid-run loses nothing: another worker runs its tasks after the lease', async () => {
  const p = place()
  const N = 2000
  const first = startWorker(redis, p, { concurrency: 32, leaseMs: 1000, mode: 'submit', count: N })
  await until(() => first.stdoutText.includes('submitted') && runsById(p.log).size >= 300, 30_000, 'the first worker to be busy')
  first.kill('SIGKILL')
  assert.equal((await first.exited).signal, 'SIGKILL')
  const startedBefore = runsById(p.log).size
  assert.ok(startedBefore < N, `killed mid-run (${startedBefore} of ${N} had started)`)

  const second = startWorker(redis, p, { concurrency: 32, leaseMs: 1000 })
  assert.equal((await second.exited).code, 0)
  const ex = producer(redis, p)
  const tasks = []
  let cursor
  do {
    const page = await ex.list({ limit: 500, ...(cursor ? { cursor } : {}) })
    tasks.push(...page.tasks)
    cursor = page.cursor
  } while (cursor)
  assert.equal(tasks.length, N, 'every submitted task is stored')
  assert.equal((await ex.counts()).total.SUCCESS, N, 'and every one succeeded')
  const ran = runsById(p.log)
  const byId = new Map(tasks.map((t) => [t.id, t]))
  for (const t of tasks) assert.equal(t.result, t.payload * 2)
  const twice = [...ran].filter(([, pids]) => pids.length > 1)
  assert.ok(twice.length <= 4 * 32, `${twice.length} tasks ran twice`)
  for (const [id, pids] of twice) {
    assert.equal(pids[0], first.pid, 'its first run was in the killed worker')
    assert.equal(byId.get(id).attempt, 2, 'the lost run counts as an attempt')
  }
  await ex.close()
  fs.rmSync(p.dir, { recursive: true, force: true })
})

test('cancel() in one process aborts the running task in another; its progress, status and logs reach listeners elsewhere', async () => {
  const p = place()
  const worker = startWorker(redis, p, { mode: 'serve' })
  await until(() => worker.stdoutText.includes('ready'), 10_000, 'the worker')
  const ex = producer(redis, p)
  const seen = { progress: [], status: [], log: [] }
  ex.on('progress', (e) => seen.progress.push(e))
  ex.on('status', (e) => seen.status.push(e))
  ex.on('log', (e) => seen.log.push(e))
  const h = await ex.submit('watched', 60_000)
  await until(() => seen.log.length > 0, 10_000, 'the log line from the worker')
  assert.deepEqual(seen.progress.map((e) => [e.id, e.name, e.percent, e.message]), [[h.id, 'watched', 50, 'half way']])
  assert.deepEqual(seen.status.map((e) => [e.id, e.status]), [[h.id, 'busy']])
  assert.equal(seen.log[0].message, 'hello from the worker')
  assert.equal(seen.log[0].level, 'info')
  assert.ok(seen.log[0].time instanceof Date)
  assert.equal(await h.state(), 'STARTED')

  assert.equal(await h.cancel(), true)
  await assert.rejects(h.result(), (e) => e.name === 'TaskCancelledError' || /cancel|revoked/i.test(e.message))
  assert.equal(await h.state(), 'REVOKED')
  assert.ok(lines(p.log).some(([what, id]) => what === 'aborted' && id === h.id), "the worker's ctx.signal was aborted")
  const info = await h.info()
  assert.equal(info.progress, 50)
  assert.equal(info.status, 'busy')
  assert.equal(info.logs[0].message, 'hello from the worker')
  worker.kill('SIGTERM')
  assert.equal((await worker.exited).code, 0)
  await ex.close()
  fs.rmSync(p.dir, { recursive: true, force: true })
})

test('maxParallel holds across every worker process sharing the store', async () => {
  const p = place()
  // Three workers running one task at a time each: 3 at once without a shared limit.
  const workers = [1, 2, 3].map(() => startWorker(redis, p, { concurrency: 1, mode: 'serve' }))
  await until(() => workers.every((w) => w.stdoutText.includes('ready')), 10_000, 'the workers')
  const ex = producer(redis, p)
  const handles = await ex.submitMany('limited', Array.from({ length: 30 }, (_, i) => i))
  assert.deepEqual(await Promise.all(handles.map((h) => h.result())), Array.from({ length: 30 }, (_, i) => i))
  for (const w of workers) w.kill('SIGTERM')
  for (const w of workers) assert.equal((await w.exited).code, 0)
  let running = 0
  let most = 0
  for (const [what] of lines(p.log)) {
    if (what === '+') most = Math.max(most, ++running)
    if (what === '-') running--
  }
  assert.equal(most, 2, 'two at once at most, and the limit was reached')
  const pids = new Set(lines(p.log).map((l) => l[2]))
  assert.ok(pids.size > 1, 'more than one process ran them')
  await ex.close()
  fs.rmSync(p.dir, { recursive: true, force: true })
})

test('a rate limit holds across every worker process sharing the store', async () => {
  const p = place()
  const ex = producer(redis, p)
  await ex.submitMany('rated', Array.from({ length: 30 }, (_, i) => i))
  const workers = [1, 2, 3].map(() => startWorker(redis, p, { concurrency: 8 }))
  for (const w of workers) assert.equal((await w.exited).code, 0)
  const starts = lines(p.log)
    .filter(([what]) => what === 'start')
    .map(([, at]) => Number(at))
    .sort((a, b) => a - b)
  assert.equal(starts.length, 30)
  // 20 per second with a burst of 1: 30 starts take at least ~1.45 s in all, and no
  // window of one second holds more than 20 (+1 for the burst and timer slack).
  assert.ok(starts[29] - starts[0] >= 1300, `30 starts took ${starts[29] - starts[0]} ms`)
  for (let i = 0; i + 21 < starts.length; i++) {
    assert.ok(starts[i + 21] - starts[i] >= 950, `22 starts within ${starts[i + 21] - starts[i]} ms`)
  }
  await ex.close()
  fs.rmSync(p.dir, { recursive: true, force: true })
})

test('Redis restarts: a submit during the outage fails with a clear error; nothing stored is lost (AOF); workers reconnect and finish', async () => {
  const server = await startRedis({ aof: true })
  const p = place()
  const ex = producer(server, p)
  const N = 600
  const handles = await ex.submitMany('work', Array.from({ length: N }, (_, i) => i))
  const patient = producer(server, p, { offlineSubmits: 'queue' })
  const worker = startWorker(server, p, { concurrency: 4, leaseMs: 2000 })
  await until(() => runsById(p.log).size >= 50, 20_000, 'the worker to be busy')
  await server.kill()
  await assert.rejects(ex.submit('work', 1), (e) => {
    assert.ok(e instanceof StoreError, `a StoreError, got ${e}`)
    assert.match(e.message, /Redis/)
    return true
  })
  // With offlineSubmits: 'queue', a submit waits for Redis instead of failing.
  let waited = false
  const queued = patient.submit('work', 50).then((h) => ((waited = true), h))
  await sleep(300)
  assert.equal(waited, false, 'the queued submit waits while Redis is down')
  await server.start()
  assert.equal(await (await queued).result(), 100, 'and is stored and run once Redis is back')
  await patient.close()
  assert.equal((await worker.exited).code, 0, 'the worker reconnected and finished')
  const later = await ex.submit('work', 21)
  const again = startWorker(server, p, { concurrency: 4 })
  assert.equal(await later.result(), 42, 'the producer reconnected too')
  assert.equal((await again.exited).code, 0)
  const counts = await ex.counts()
  assert.equal(counts.total.SUCCESS, N + 2, 'every task stored before the outage succeeded, and the queued one')
  assert.equal(await handles[N - 1].result(), (N - 1) * 2)
  await ex.close()
  await server.stop()
  fs.rmSync(p.dir, { recursive: true, force: true })
})

test('a Redis store that cannot be reached at construction throws a StoreError naming it', async () => {
  const server = await startRedis()
  const url = server.url
  await server.stop()
  assert.throws(() => new Executor({ store: url }), (e) => e instanceof StoreError && e.message.includes(url.replace('redis://', '')))
  assert.throws(() => new Executor({ store: url, namespace: 'a{b}' }), /namespace/)
  assert.throws(() => new Executor({ store: url, offlineSubmits: 'later' }), /offlineSubmits/)
})

test('rediss:// connects over TLS (a self-signed certificate, accepted with #insecure)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-tls-'))
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' })
  const server = await startRedis({ tls: { cert, key } })
  assert.match(server.url, /^rediss:\/\//)
  const ex = new Executor({ store: server.url, namespace: 'tls' })
  ex.register('add', ([a, b]) => a + b)
  assert.equal(await (await ex.submit('add', [2, 3])).result(), 5)
  await ex.close()
  // The same port without TLS: refused at construction, naming the store.
  assert.throws(() => new Executor({ store: `redis://127.0.0.1:${server.port}` }), StoreError)
  await server.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('a result awaited by a producer opened a moment ago is never lost (its subscription may stand after the task finished)', async () => {
  const p = place()
  const echo = fileURLToPath(new URL('./fixtures/echo-worker.mjs', import.meta.url))
  const worker = spawnNode([echo, redis.url, p.namespace], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve) => worker.stdout.on('data', (d) => d.toString().includes('ready') && resolve()))
  try {
    // Each round a fresh producer: the worker often finishes the task before the
    // producer's subscriber thread has subscribed. Before the fix about 3 in 100 hung.
    const lost = []
    for (let i = 0; i < 400; i++) {
      const ex = new Executor({ store: redis.url, namespace: p.namespace, worker: false })
      ex.register('echo', () => {})
      const h = await ex.submit('echo', i)
      const got = await h.result({ timeoutMs: 3000 }).catch((e) => e.code)
      if (got !== i) lost.push(`${i}: ${got}`)
      await ex.close()
    }
    assert.deepEqual(lost, [])
  } finally {
    worker.kill('SIGTERM')
  }
})

// The shared registry, with real worker processes on a SQLite file and on a private
// redis-server: a producer that registers nothing submits by name, the worker's
// definition decides the queue and the retry policy, a worker only runs its queues'
// tasks, and workers that define a task differently are reported.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Executor, DefinitionConflictError, TaskNotFoundError } from '../index.mjs'
import { placesForThisFile, storeOptions } from './support/places.mjs'
import { sleep, until, spawnNode } from './support/processes.mjs'

const fixture = fileURLToPath(new URL('./fixtures/registry-worker.mjs', import.meta.url))
const { place, redis: server } = placesForThisFile('reg')


function producer(p, options = {}) {
  return new Executor({ ...storeOptions(p), worker: false, ...options })
}

/** A worker process with `tasks` (name → register options); its stdout lines collected. */
async function startWorker(p, tasks, exOptions = {}) {
  const child = spawnNode([fixture, p.store, p.namespace, JSON.stringify(exOptions), JSON.stringify(tasks)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  child.output = []
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      child.output.push(...d.toString().split('\n').filter(Boolean))
      if (child.output.includes('ready')) resolve()
    })
    child.once('exit', () => reject(new Error('the worker exited before it was ready')))
  })
  return child
}

async function stop(...children) {
  for (const c of children) c.kill('SIGTERM')
  return Promise.all(children.map((c) => c.exited))
}

for (const kind of ['sqlite', 'redis']) {
  test(`${kind}: a producer that registers nothing submits by name; the worker's definition decides queue and retries`, async () => {
    const p = place(kind)
    const worker = await startWorker(p, { sq: { queue: 'io', retry: { maxRetries: 2, delayMs: 10 }, tags: ['math'], description: 'squares' } }, { queues: ['io'] })
    const ex = producer(p)
    try {
      assert.equal(ex.has('sq'), false)
      const info = ex.info('sq')
      assert.equal(info.queue, 'io')
      assert.equal(info.description, 'squares')
      assert.deepEqual(info.conflicts, [])
      assert.equal(info.workers.length, 1)
      assert.equal(info.workers[0].pid, worker.pid)
      assert.equal(info.workers[0].alive, true)
      assert.ok(info.workers[0].lastSeenAt instanceof Date)
      assert.deepEqual(ex.tasks({ tags: ['math'] }).map((t) => t.name), ['sq'])
      assert.ok(ex.tasks({ tags: ['math'] })[0].workers[0].lastSeenAt instanceof Date, 'tasks() gives lastSeenAt as a Date, as info() does')
      assert.deepEqual(ex.tasks({ tags: ['other'] }), [])

      // Fails twice, then succeeds: the worker's two retries apply, not the producer's default (none).
      const h = await ex.submit('sq', { n: 3, failTimes: 2 })
      const result = await h.result({ timeoutMs: 20_000 })
      assert.equal(result.pid, worker.pid)
      assert.equal(result.queue, 'io')
      assert.equal(result.attempt, 3)
      const done = await h.info()
      assert.equal(done.queue, 'io')
      assert.equal(done.state, 'SUCCESS')
      const counts = await ex.counts()
      assert.equal(counts.queues.io.SUCCESS, 1)
      assert.equal(counts.queues.default, undefined)

      // The submit's queue must agree with the definition: a clear error, nothing stored.
      await assert.rejects(() => ex.submit('sq', { n: 1 }, { queue: 'cpu' }), /task 'sq' runs in queue 'io'.*asks for queue 'cpu'/)
      assert.equal((await ex.list({ name: 'sq' })).tasks.length, 1)
      // run() needs a handler here.
      await assert.rejects(() => ex.run('sq', {}), /unknown task 'sq'/)
    } finally {
      await ex.close()
      await stop(worker)
    }
  })

  test(`${kind}: a task submitted before any worker published goes to the submit's queue, and runs once one works it`, async () => {
    const p = place(kind)
    const ex = producer(p)
    try {
      assert.equal(ex.info('later'), undefined)
      const h = await ex.submit('later', { x: 1 }, { queue: 'io' })
      const plain = await ex.submit('later', { x: 2 }) // no queue given: 'default'
      assert.equal((await h.info()).queue, 'io')
      assert.equal((await plain.info()).queue, 'default')
      const worker = await startWorker(p, { later: { queue: 'io' } }, { queues: ['io'] })
      try {
        const r = await h.result({ timeoutMs: 20_000 })
        assert.equal(r.pid, worker.pid)
        // The worker works only 'io': the task in 'default' waits for a worker of that queue.
        await sleep(300)
        assert.equal(await plain.state(), 'PENDING')
        // Once the producer sees the published definition, new submits go to 'io'.
        await sleep(1100)
        const next = await ex.submit('later', { x: 3 })
        assert.equal((await next.info()).queue, 'io')
        assert.equal((await next.result({ timeoutMs: 20_000 })).queue, 'io')
      } finally {
        await stop(worker)
      }
    } finally {
      await ex.close()
    }
  })

  test(`${kind}: a producer's own stub with another queue is not run by a worker of other queues (the queue mismatch)`, async () => {
    const p = place(kind)
    const worker = await startWorker(p, { sq: { queue: 'io' } }, { queues: ['io'] })
    const ex = producer(p)
    ex.register('sq', () => {}) // a stub: its queue is 'default'
    try {
      const h = await ex.submit('sq', { n: 1 })
      await sleep(500)
      const info = await h.info()
      assert.equal(info.state, 'PENDING')
      assert.equal(info.queue, 'default')
      assert.equal((await ex.counts()).queues.default.PENDING, 1)
      await h.cancel()
    } finally {
      await ex.close()
      await stop(worker)
    }
  })

  test(`${kind}: a queue paused by a producer holds back a worker in another process until resumed`, async () => {
    const p = place(kind)
    const worker = await startWorker(p, { sq: { queue: 'io' } }, { queues: ['io'] })
    const ex = producer(p)
    try {
      assert.equal(await ex.pauseQueue('io'), true)
      const h = await ex.submit('sq', { n: 1 })
      await sleep(600)
      assert.equal(await h.state(), 'PENDING')
      const io = (await ex.queues()).find((q) => q.name === 'io')
      assert.equal(io.paused, true)
      assert.equal(io.counts.PENDING, 1)
      assert.equal(await ex.resumeQueue('io'), true)
      assert.equal((await h.result({ timeoutMs: 20_000 })).pid, worker.pid)
    } finally {
      await ex.close()
      await stop(worker)
    }
  })

  test(`${kind}: retry, remove, clean and drain by a producer, seen from other processes`, async () => {
    const p = place(kind)
    const worker = await startWorker(p, { sq: { queue: 'io' } }, { queues: ['io'] })
    const ex = producer(p)
    const other = producer(p)
    try {
      // retry: fails once (no retries), then runs again in the worker and succeeds.
      const h = await ex.submit('sq', { n: 1, failTimes: 1 })
      await assert.rejects(h.result({ timeoutMs: 20_000 }), /attempt 1 fails/)
      const awaitedElsewhere = other.task(h.id).result({ timeoutMs: 20_000 })
      await ex.retry(h.id)
      const r = await awaitedElsewhere
      assert.equal(r.attempt, 2)
      assert.equal(r.pid, worker.pid)
      // remove: gone for every process.
      assert.equal(await ex.remove(h.id), true)
      await assert.rejects(other.task(h.id).info(), TaskNotFoundError)
      // clean
      const many = await ex.submitMany('sq', [1, 2, 3].map((n) => ({ n })))
      for (const t of many) await t.result({ timeoutMs: 20_000 })
      assert.equal(await ex.clean({ state: 'SUCCESS', queue: 'io' }), 3)
      assert.equal((await other.counts()).total.SUCCESS, 0)
      // drain: a paused queue's tasks stay waiting (no worker claims them), then go.
      await ex.pauseQueue('io')
      const waiting = await ex.submitMany('sq', [1, 2, 3, 4, 5].map((n) => ({ n })))
      const awaited = other.task(waiting[0].id).result({ timeoutMs: 20_000 })
      assert.equal(await ex.drain('io'), 5)
      await assert.rejects(awaited, TaskNotFoundError) // another process learns it is gone
      assert.equal((await other.counts()).queues.io?.PENDING ?? 0, 0)
      await ex.resumeQueue('io')
      assert.equal((await (await ex.submit('sq', { n: 6 })).result({ timeoutMs: 20_000 })).payload.n, 6)
    } finally {
      await other.close()
      await ex.close()
      await stop(worker)
    }
  })

  test(`${kind}: workers that define a task differently are reported, never mixed`, async () => {
    const p = place(kind)
    const a = await startWorker(p, { dup: { queue: 'io', timeoutMs: 1000 } })
    const b = await startWorker(p, { dup: { queue: 'cpu', timeoutMs: 1000 } })
    const ex = producer(p)
    try {
      await until(() => b.output.some((l) => l.startsWith('error ERR_DEFINITION_CONFLICT')), 5000, 'the conflict event')
      assert.match(b.output.find((l) => l.startsWith('error')), /task 'dup' differently \(queue\)/)
      const info = ex.info('dup')
      assert.equal(info.conflicts.length, 1)
      assert.equal(info.conflicts[0].field, 'queue')
      assert.deepEqual(info.conflicts[0].values.map((v) => v.value).sort(), ['cpu', 'io'])
      assert.equal(info.workers.length, 2)
    } finally {
      await ex.close()
      await stop(a, b)
    }
  })
}

test('redis: a namespace written in the old key layout (one ready line per task name) is upgraded when a store opens', async () => {
  const p = place('redis')
  const ex = producer(p)
  const handles = await ex.submitMany('sq', [1, 2, 3], { queue: 'io' })
  await ex.close()
  const cli = (...args) => execFileSync('redis-cli', ['-p', String(server().port), ...args], { encoding: 'utf8' }).trim()
  const P = `{${p.namespace}}`
  assert.equal(cli('ZCARD', `${P}:ready:io:sq`), '3')
  // What a namespace of layout 1 held: the line under the name alone, no layout key.
  cli('RENAME', `${P}:ready:io:sq`, `${P}:ready:sq`)
  cli('DEL', `${P}:layout`)
  const worker = await startWorker(p, { sq: { queue: 'io' } })
  const again = producer(p)
  try {
    for (const h of handles) {
      const r = await again.task(h.id).result({ timeoutMs: 20_000 })
      assert.equal(r.pid, worker.pid)
    }
    assert.equal(cli('EXISTS', `${P}:ready:sq`), '0')
    assert.equal(cli('GET', `${P}:layout`), '2')
  } finally {
    await again.close()
    await stop(worker)
  }
})

test('memory: submitting a name that is not registered stays an error', async () => {
  const ex = new Executor({ store: 'memory' })
  try {
    await assert.rejects(() => ex.submit('nope', {}), /unknown task 'nope': register it first/)
    assert.equal(ex.info('nope'), undefined)
    ex.register('yes', () => 1, { queue: 'io' })
    await assert.rejects(() => ex.submit('yes', {}, { queue: 'cpu' }), /runs in queue 'io'/)
    assert.equal((await ex.counts()).total.PENDING, 0)
    assert.equal(await (await ex.submit('yes', {}, { queue: 'io' })).result(), 1)
  } finally {
    await ex.close()
  }
})

test('DefinitionConflictError is exported', () => {
  assert.equal(new DefinitionConflictError('x').code, 'ERR_DEFINITION_CONFLICT')
})

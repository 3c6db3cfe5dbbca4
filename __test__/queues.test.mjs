// Queues as a whole, on whichever store the run uses: pauseQueue / resumeQueue (running
// tasks finish, nothing new starts, submits are accepted) and queues().
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor } from '../index.mjs'
import { sleep, until } from './support/processes.mjs'

test('a paused queue starts nothing new; its running task finishes; submits are accepted; resume runs the rest', async () => {
  const ex = new Executor({ concurrency: 4 })
  const started = []
  let release
  const gate = new Promise((resolve) => (release = resolve))
  ex.register('io-job', async (n) => {
    started.push(n)
    if (n === 0) await gate
    return n
  }, { queue: 'io' })
  ex.register('cpu-job', (n) => n * 2, { queue: 'cpu' })
  try {
    const first = await ex.submit('io-job', 0)
    await until(() => started.length === 1, 5000, 'the first task to start')
    assert.equal(await ex.pauseQueue('io'), true)
    assert.equal(await ex.pauseQueue('io'), false) // already paused
    const later = await ex.submitMany('io-job', [1, 2, 3])
    // Another queue is not affected.
    assert.equal(await (await ex.submit('cpu-job', 21)).result(), 42)
    release()
    assert.equal(await first.result(), 0) // the running one finishes
    await sleep(200)
    assert.deepEqual(started, [0])
    for (const h of later) assert.equal(await h.state(), 'PENDING')
    const queues = await ex.queues()
    const io = queues.find((q) => q.name === 'io')
    assert.equal(io.paused, true)
    assert.equal(io.counts.PENDING, 3)
    assert.equal(queues.find((q) => q.name === 'cpu').paused, false)
    assert.deepEqual(queues.map((q) => q.name), [...queues.map((q) => q.name)].sort())

    assert.equal(await ex.resumeQueue('io'), true)
    assert.deepEqual(await Promise.all(later.map((h) => h.result())), [1, 2, 3])
    assert.equal((await ex.queues()).find((q) => q.name === 'io').paused, false)
  } finally {
    await ex.close()
  }
})

test('queues() lists a paused queue with no tasks, and hides the workflow queue unless asked', async () => {
  const ex = new Executor()
  ex.register('a', () => 1)
  try {
    await ex.pauseQueue('later')
    const names = (await ex.queues()).map((q) => q.name)
    assert.ok(names.includes('later') && names.includes('default'), names.join())
    assert.ok(!names.includes('taskloom-workflow'))
    assert.ok((await ex.queues({ internal: true })).some((q) => q.name === 'taskloom-workflow'))
    const later = (await ex.queues()).find((q) => q.name === 'later')
    assert.equal(later.paused, true)
    assert.equal(later.counts.PENDING, 0)
    await ex.resumeQueue('later')
  } finally {
    await ex.close()
  }
})

test('bad input to pauseQueue, resumeQueue and queues() is refused and changes nothing', async () => {
  const ex = new Executor()
  ex.register('a', () => 1)
  try {
    await assert.rejects(() => ex.pauseQueue(42), /expected a queue name \(string\), got number/)
    await assert.rejects(() => ex.pauseQueue('no spaces'), /queue name 'no spaces' is not URL-safe/)
    await assert.rejects(() => ex.resumeQueue(''), /queue name must be 1 to 128 characters/)
    await assert.rejects(() => ex.queues({ paused: true }), /unknown queues\(\) option 'paused'|unknown key 'paused'|'paused'/)
    assert.ok((await ex.queues()).every((q) => q.paused === false))
  } finally {
    await ex.close()
  }
})

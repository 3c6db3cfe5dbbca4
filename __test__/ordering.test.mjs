// Queues, priorities, FIFO, delays, concurrency and maxParallel.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor } from '../index.mjs'
import { suiteStore } from './support/suite-store.mjs'

/** Submits everything before the executor gets a turn, then collects the run order. */
async function runOrder(ex, submit) {
  const order = []
  ex.register('rec', (p) => {
    order.push(p)
  })
  await submit()
  await ex.onIdle()
  return order
}

test('higher priority runs first; FIFO within a priority', async () => {
  const ex = new Executor({ concurrency: 1 })
  const order = await runOrder(ex, () =>
    Promise.all([
      ex.submit('rec', 'a0', { priority: 0 }),
      ex.submit('rec', 'b5', { priority: 5 }),
      ex.submit('rec', 'c0', { priority: 0 }),
      ex.submit('rec', 'd5', { priority: 5 }),
      ex.submit('rec', 'e-1', { priority: -1 }),
      ex.submit('rec', 'f10', { priority: 10 }),
    ]),
  )
  assert.deepEqual(order, ['f10', 'b5', 'd5', 'a0', 'c0', 'e-1'])
  await ex.close()
})

test('with the one slot busy, priorities submitted one by one still run highest first (no task claimed ahead jumps the line)', async () => {
  const ex = new Executor({ concurrency: 1 })
  const order = []
  let release
  ex.register('long', () => new Promise((resolve) => (release = resolve)))
  ex.register('rec', (p) => {
    order.push(p)
  })
  try {
    const long = await ex.submit('long')
    while ((await long.state()) !== 'STARTED') await new Promise((resolve) => setTimeout(resolve, 5))
    for (const [p, priority] of [['a', 1], ['b', 5], ['c', 1], ['d', 9], ['e', 5]]) {
      await ex.submit('rec', p, { priority })
      await new Promise((resolve) => setTimeout(resolve, 20)) // time to claim ahead
    }
    release()
    await ex.onIdle()
    assert.deepEqual(order, ['d', 'b', 'e', 'a', 'c'])
  } finally {
    await ex.close()
  }
})

test('a task definition can set the default priority', async () => {
  const ex = new Executor({ concurrency: 1 })
  const order = []
  ex.register('low', (p) => order.push(p))
  ex.register('urgent', (p) => order.push(p), { priority: 100 })
  await Promise.all([ex.submit('low', 1), ex.submit('low', 2), ex.submit('urgent', 3)])
  await ex.onIdle()
  assert.deepEqual(order, [3, 1, 2])
  await ex.close()
})

test('delayMs and runAt (Date and ISO 8601) hold a task back until due', async () => {
  const ex = new Executor()
  const ranAt = {}
  ex.register('stamp', (label) => {
    ranAt[label] = Date.now()
  })
  const t0 = Date.now()
  await ex.submit('stamp', 'delay', { delayMs: 120 })
  await ex.submit('stamp', 'date', { runAt: new Date(t0 + 60) })
  await ex.submit('stamp', 'iso', { runAt: new Date(t0 + 90).toISOString() })
  await ex.submit('stamp', 'now')
  await ex.onIdle()
  assert.ok(ranAt.now < ranAt.date, 'an undelayed task does not wait for the delayed ones')
  assert.ok(ranAt.date >= t0 + 60, `date ran ${ranAt.date - t0} ms after submit`)
  assert.ok(ranAt.iso >= t0 + 90, `iso ran ${ranAt.iso - t0} ms after submit`)
  assert.ok(ranAt.delay >= t0 + 120, `delay ran ${ranAt.delay - t0} ms after submit`)
  assert.ok(ranAt.date <= ranAt.iso && ranAt.iso <= ranAt.delay)
  await ex.close()
})

test('a delayed task is PENDING with its runAt until it runs', async () => {
  const ex = new Executor()
  ex.register('noop', () => 1)
  const t = await ex.submit('noop', null, { delayMs: 50 })
  assert.equal(await t.state(), 'PENDING')
  const info = await t.info()
  assert.ok(info.runAt instanceof Date && info.runAt.getTime() >= info.createdAt.getTime() + 50)
  assert.equal(await t.result(), 1)
  await ex.close()
})

test('concurrency bounds the handlers running at once', async () => {
  const ex = new Executor({ concurrency: 3 })
  let now = 0
  let peak = 0
  ex.register('busy', async () => {
    now++
    peak = Math.max(peak, now)
    await new Promise((r) => setTimeout(r, 5))
    now--
  })
  await ex.submitMany('busy', Array.from({ length: 20 }, (_, i) => i))
  await ex.onIdle()
  assert.equal(peak, 3)
  await ex.close()
})

test('maxParallel bounds one task name while others keep running', async () => {
  const ex = new Executor({ concurrency: 10 })
  const live = { capped: 0, free: 0 }
  const peak = { capped: 0, free: 0 }
  const make = (name) => async () => {
    live[name]++
    peak[name] = Math.max(peak[name], live[name])
    await new Promise((r) => setTimeout(r, 5))
    live[name]--
  }
  ex.register('capped', make('capped'), { maxParallel: 2 })
  ex.register('free', make('free'))
  await ex.submitMany('capped', Array.from({ length: 12 }, (_, i) => i))
  await ex.submitMany('free', Array.from({ length: 12 }, (_, i) => i))
  await ex.onIdle()
  assert.equal(peak.capped, 2)
  assert.ok(peak.free >= 6, `free tasks used the remaining slots (peak ${peak.free})`)
  await ex.close()
})

test('sizes: a run takes its size in slots of concurrency; a large task waits first in line', async () => {
  const ex = new Executor({ concurrency: 4 })
  let used = 0
  let peak = 0
  let runningWhileBig = null
  const order = []
  const make = (slots) => async (p) => {
    used += slots
    peak = Math.max(peak, used)
    order.push(p)
    if (slots === 4) runningWhileBig = ex.running
    await new Promise((r) => setTimeout(r, 10))
    used -= slots
  }
  ex.register('big', make(4), { size: 'large' })
  ex.register('small', make(1), { size: 'small' })
  assert.equal(ex.tasks().find((t) => t.name === 'big').size, 4, 'a size name reads back as its slots')
  assert.equal(ex.tasks().find((t) => t.name === 'small').size, 1)
  await Promise.all([
    ex.submit('big', 'b1'),
    ...[1, 2, 3, 4].map((i) => ex.submit('small', `s${i}`)),
    ex.submit('big', 'b2'),
    ...[5, 6, 7, 8].map((i) => ex.submit('small', `s${i}`)),
  ])
  await ex.onIdle()
  assert.equal(peak, 4, 'never more than 4 slots in use')
  assert.deepEqual(order, ['b1', 's1', 's2', 's3', 's4', 'b2', 's5', 's6', 's7', 's8'], 'smaller tasks do not overtake a large one waiting')
  assert.equal(runningWhileBig, 1, '`running` counts handlers, not slots')
  await ex.close()
})

test('sizes: a size that could never run, or is not a size, is refused at register', async () => {
  const ex = new Executor({ concurrency: 4 })
  assert.throws(() => ex.register('huge', () => {}, { size: 5 }), {
    name: 'TypeError',
    message: "task 'huge' has size 5, more than the executor's concurrency of 4: it could never start (raise `concurrency` or lower `size`)",
  })
  for (const size of [0, -1, 1.5, 'huge', '2', true, {}]) {
    assert.throws(() => ex.register('bad', () => {}, { size }), /`size` of task 'bad' must be a positive whole number of slots or 'small', 'medium', 'large'/, String(size))
  }
  assert.equal(ex.has('huge') || ex.has('bad'), false, 'nothing was registered')
  ex.register('medium', () => 'm', { size: 'medium' })
  assert.equal(await (await ex.submit('medium', null)).result(), 'm')
  await ex.close()
})

test('an executor works only the queues it is given', async () => {
  const ex = new Executor({ queues: ['math'] })
  ex.register('add', ([a, b]) => a + b, { queue: 'math' })
  ex.register('send', () => 'sent', { queue: 'email' })
  const add = await ex.submit('add', [2, 2])
  const send = await ex.submit('send', {})
  assert.equal(await add.result(), 4)
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(await send.state(), 'PENDING', 'the email queue is not worked here')
  await ex.close()
})

test('a producer-only executor (worker: false) runs nothing; on the memory store it is refused', async () => {
  if (suiteStore === 'memory') {
    assert.throws(() => new Executor({ worker: false }), {
      name: 'TypeError',
      message: /`worker: false` with the memory store: nothing could ever run its tasks/,
    })
    return
  }
  const ex = new Executor({ worker: false })
  let ran = false
  ex.register('x', () => {
    ran = true
  })
  const t = await ex.submit('x', 1)
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(ran, false)
  assert.equal(await t.state(), 'PENDING')
  await ex.close()
})

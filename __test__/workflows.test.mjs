// Workflows through the public API: the seed examples, nesting, failure semantics,
// cancel, and bad specs. Runs on every store (see support/run-on-*.mjs).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor, WorkflowHandle, TaskFailedError, TaskCancelledError, sig, chain, group, chord } from '../index.mjs'

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      reject(signal.reason)
    })
  })

/** An executor with the seed's math tasks; `runs` counts handler calls by name. */
function mathExecutor(options) {
  const ex = new Executor(options)
  const runs = new Map()
  const count = (name) => runs.set(name, (runs.get(name) ?? 0) + 1)
  ex.register('add', async ([x, y]) => (count('add'), x + y))
  ex.register('multiply', async ([x, y]) => (count('multiply'), x * y))
  ex.register('sum', async ([numbers]) => (count('sum'), numbers.reduce((a, b) => a + b, 0)))
  ex.register('boom', async () => {
    count('boom')
    throw new Error('kaput')
  })
  return { ex, runs }
}

test('the seed examples: chain (1+2)×3 = 9, group [3, 7, 11], chord sum = 21', async () => {
  const { ex } = mathExecutor()
  const c = await ex.submit(chain(sig('add', [1, 2]), sig('multiply', [3])))
  assert.ok(c instanceof WorkflowHandle)
  assert.equal(await c.result(), 9)
  assert.equal(await c.state(), 'SUCCESS')
  const g = await ex.submit(group(sig('add', [1, 2]), sig('add', [3, 4]), sig('add', [5, 6])))
  assert.deepEqual(await g.result(), [3, 7, 11])
  const ch = await ex.submit(chord([sig('add', [1, 2]), sig('add', [3, 4]), sig('add', [5, 6])], sig('sum')))
  assert.equal(await ch.result(), 21)
  // Every member is a task of its own, with the payload it ran with.
  const members = await c.members()
  assert.deepEqual(
    members.map((m) => [m.name, m.path, m.state]),
    [
      ['add', 'chain step 1', 'SUCCESS'],
      ['multiply', 'chain step 2', 'SUCCESS'],
    ],
  )
  assert.deepEqual((await ex.task(members[1].id).info()).payload, [3, 3], 'the previous result comes first')
  await ex.close()
})

test('the seed pipeline: a chord over chains fetch → process, then aggregate', async () => {
  const ex = new Executor()
  ex.register('fetch_data', async ([url]) => ({ data: `content from ${url}` }), { queue: 'io' })
  ex.register('process_data', async ([data]) => ({ processed: data }), { queue: 'cpu' })
  ex.register('aggregate', async ([results]) => ({ total: results.length, items: results }), { queue: 'cpu' })
  const urls = [1, 2, 3].map((i) => `https://api.example.com/${i}`)
  const h = await ex.submit(chord(urls.map((u) => chain(sig('fetch_data', [u]), sig('process_data'))), sig('aggregate')))
  const summary = await h.result()
  assert.equal(summary.total, 3)
  assert.deepEqual(summary.items[2], { processed: { data: 'content from https://api.example.com/3' } })
  const paths = (await h.members()).map((m) => m.path)
  assert.deepEqual(paths.slice(0, 2), ['chord header member 1 › chain step 1', 'chord header member 1 › chain step 2'])
  assert.equal(paths[6], 'chord callback')
  await ex.close()
})

test('every member sees the previous result as ctx.previous', async () => {
  const ex = new Executor()
  const seen = []
  ex.register('see', async (args, ctx) => {
    seen.push([args.at(-1), ctx.previous])
    return args.at(-1)
  })
  // see(1) → [see(2), see(3)] → see(4): a chain whose second step is a group.
  const h = await ex.submit(chain(sig('see', [1]), group(sig('see', [2]), sig('see', [3])), sig('see', [4])))
  assert.equal(await h.result(), 4)
  seen.sort((a, b) => a[0] - b[0])
  assert.deepEqual(seen, [
    [1, undefined],
    [2, 1],
    [3, 1],
    [4, [2, 3]],
  ])
  // Outside workflows there is none.
  let outside = 'unset'
  ex.register('plain', async (_, ctx) => {
    outside = ctx.previous
  })
  await (await ex.submit('plain', [1])).result()
  assert.equal(outside, undefined)
  await ex.close()
})

test('a chain containing a group passes the result to every member and the list on', async () => {
  const { ex } = mathExecutor()
  // add(1, 2) = 3 → [multiply(3, 2), multiply(3, 10)] = [6, 30] → sum = 36
  const h = await ex.submit(chain(sig('add', [1, 2]), group(sig('multiply', [2]), sig('multiply', [10])), sig('sum')))
  assert.equal(await h.result(), 36)
  await ex.close()
})

test('a failed chain step fails the chain, naming the step; the later steps are REVOKED and never run', async () => {
  const { ex, runs } = mathExecutor()
  const h = await ex.submit(chain(sig('add', [1, 2]), sig('boom'), sig('multiply', [3])))
  const err = await h.result().then(
    () => assert.fail('the chain should fail'),
    (e) => e,
  )
  assert.ok(err instanceof TaskFailedError)
  assert.equal(err.errorType, 'WorkflowError')
  assert.match(err.errorMessage, /^chain step 2 \(task 'boom', id [0-9a-f-]{36}\) failed: Error: kaput$/)
  assert.equal(err.message, `workflow (${h.id}) failed: ${err.errorMessage}`)
  assert.equal(await h.state(), 'FAILURE')
  const members = await h.members()
  assert.deepEqual(
    members.map((m) => m.state),
    ['SUCCESS', 'FAILURE', 'REVOKED'],
  )
  assert.equal(members[2].id, null, 'the step after the failure was never submitted')
  assert.equal(runs.get('multiply'), undefined)
  await ex.close()
})

test('a failed group member fails the group naming it, while the other members finish', async () => {
  const ex = new Executor()
  ex.register('slow', async (ms) => (await sleep(ms), ms))
  ex.register('boom', async () => {
    throw new Error('kaput')
  })
  const h = await ex.submit(group(sig('slow', 200), sig('boom'), sig('slow', 10)))
  const err = await h.result().catch((e) => e)
  assert.ok(err instanceof TaskFailedError)
  assert.match(err.errorMessage, /^group member 2 \(task 'boom', id [0-9a-f-]{36}\) failed: Error: kaput$/)
  // The group failed at once; its slow member was left to finish.
  const members = await h.members()
  assert.equal(members[0].state === 'SUCCESS', false, 'the failure did not wait for the slow member')
  assert.equal(await ex.task(members[0].id).result(), 200)
  assert.equal(await ex.task(members[2].id).result(), 10)
  await ex.close()
})

test("a chord's callback does not run when a header member failed; the chord fails naming it", async () => {
  const { ex, runs } = mathExecutor()
  const h = await ex.submit(chord([sig('add', [1, 2]), sig('boom'), sig('add', [3, 4])], sig('sum')))
  const err = await h.result().catch((e) => e)
  assert.ok(err instanceof TaskFailedError)
  assert.match(err.errorMessage, /^chord header member 2 \(task 'boom', id [0-9a-f-]{36}\) failed: Error: kaput$/)
  await ex.onIdle()
  assert.equal(runs.get('sum'), undefined, 'the callback never ran')
  const members = await h.members()
  assert.deepEqual(
    members.map((m) => m.state),
    ['SUCCESS', 'FAILURE', 'SUCCESS', 'REVOKED'],
  )
  await ex.close()
})

test('a member that fails and then succeeds on its retry lets the workflow go on', async () => {
  const ex = new Executor()
  let calls = 0
  ex.register(
    'flaky',
    async ([x]) => {
      if (++calls === 1) throw new Error('first time fails')
      return x * 10
    },
    { retry: { maxRetries: 2, delayMs: 10 } },
  )
  ex.register('add', async ([x, y]) => x + y)
  const h = await ex.submit(chain(sig('flaky', [4]), sig('add', [2])))
  assert.equal(await h.result(), 42)
  assert.equal(calls, 2)
  await ex.close()
})

test('cancel() on a workflow cancels every unfinished member; the workflow is REVOKED', async () => {
  const ex = new Executor()
  const aborted = []
  // Its payload is [previous result, ms].
  ex.register('wait', async ([, ms], ctx) => {
    try {
      await sleep(ms, ctx.signal)
    } catch (e) {
      aborted.push(ctx.id)
      throw e
    }
    return ms
  })
  ex.register('quick', async () => 'done')
  const h = await ex.submit(chain(sig('quick'), group(sig('wait', [60_000]), sig('wait', [60_000])), sig('quick')))
  // Wait until both group members run.
  for (let i = 0; i < 500; i++) {
    const m = await h.members()
    if (m[1].state === 'STARTED' && m[2].state === 'STARTED') break
    await sleep(10)
  }
  assert.equal(await h.cancel(), true)
  const err = await h.result().catch((e) => e)
  assert.ok(err instanceof TaskCancelledError, String(err))
  await ex.onIdle()
  const states = (await h.members()).map((m) => m.state)
  assert.deepEqual(states, ['SUCCESS', 'REVOKED', 'REVOKED', 'REVOKED'])
  assert.equal(aborted.length, 2, "both running members' signals aborted")
  assert.equal(await h.state(), 'REVOKED')
  await ex.close()
})

test('workflows do not take concurrency slots: more workflows than slots still finish', async () => {
  const { ex } = mathExecutor({ concurrency: 1 })
  const handles = await Promise.all(
    Array.from({ length: 5 }, (_, i) => ex.submit(chord([sig('add', [i, 1]), sig('add', [i, 2])], sig('sum')))),
  )
  assert.deepEqual(await Promise.all(handles.map((h) => h.result())), [3, 5, 7, 9, 11])
  await ex.close()
})

test('a lone signature is a plain task; submit options apply to the workflow', async () => {
  const { ex } = mathExecutor()
  const t = await ex.submit(sig('add', [2, 3]))
  assert.equal((await t.info()).name, 'add')
  assert.equal(await t.result(), 5)
  const start = Date.now()
  const h = await ex.submit(chain(sig('add', [1, 1]), sig('add', [1])), { delayMs: 150 })
  assert.equal(await h.result(), 3)
  assert.ok(Date.now() - start >= 140, 'the workflow waited for its delay')
  // The coordinator's definition stays out of the registry listing.
  assert.deepEqual(
    ex.tasks().map((t) => t.name),
    ['add', 'multiply', 'sum', 'boom'],
  )
  await ex.close()
})

test('bad workflows are refused at submit with an error naming the member, and nothing is stored', async () => {
  const { ex } = mathExecutor()
  await assert.rejects(ex.submit(chain(sig('add', [1]), sig('nope'))), {
    name: 'TypeError',
    message: "chain step 2: unknown task 'nope': register it first with ex.register('nope', handler)",
  })
  await assert.rejects(ex.submit({ chain: [] }), { name: 'TypeError', message: 'the workflow: chain needs at least one member' })
  await assert.rejects(ex.submit(group(sig('add', [() => 1]))), { name: 'TypeError', message: /not JSON/ })
  assert.throws(() => chord(sig('add'), sig('sum')), /chord\(\) expects a list of header members first/)
  assert.throws(() => chain(sig('add'), 'multiply'), /chain\(\) member 2 is not a signature or workflow/)
  assert.throws(() => sig(42), /sig\(\) expects a task name/)
  await assert.rejects(ex.submit(group(sig('add', [1], { key: 'k' }))), /cannot have an idempotency `key`/)
  const counts = await ex.counts()
  assert.equal(Object.values(counts.total).reduce((a, b) => a + b, 0), 0)
  await ex.close()
})

test('a workflow cancelled before it starts never starts a member; ex.workflow(id) finds it again', async () => {
  const { ex, runs } = mathExecutor()
  const h = await ex.submit(chain(sig('add', [1, 2]), sig('multiply', [3])), { delayMs: 60_000 })
  assert.equal(await h.state(), 'PENDING')
  assert.equal(await h.cancel(), true)
  await assert.rejects(h.result(), TaskCancelledError)
  const again = ex.workflow(h.id)
  assert.ok(again instanceof WorkflowHandle)
  assert.deepEqual(
    (await again.members()).map((m) => [m.id, m.state]),
    [
      [null, 'REVOKED'],
      [null, 'REVOKED'],
    ],
  )
  assert.equal(runs.size, 0, 'nothing ran')
  const plain = await ex.submit('add', [1, 2])
  await plain.result()
  await assert.rejects(ex.workflow(plain.id).members(), { name: 'TypeError', message: `task ${plain.id} is not a workflow` })
  await ex.close()
})

test("workflow coordinators are internal: out of counts() and tasks() unless { internal: true }", async () => {
  const { ex } = mathExecutor()
  const h = await ex.submit(chain(sig('add', [1, 2]), sig('multiply', [3])))
  assert.equal(await h.result(), 9)
  const counts = await ex.counts()
  assert.equal(counts.queues['taskloom-workflow'], undefined)
  assert.equal(counts.total.SUCCESS, 2, 'the two members, not the coordinator')
  const all = await ex.counts({ internal: true })
  assert.equal(all.queues['taskloom-workflow'].SUCCESS, 1)
  assert.equal(all.total.SUCCESS, 3)
  assert.equal(ex.tasks().some((t) => t.name === 'taskloom-workflow'), false)
  assert.equal(ex.tasks({ internal: true }).some((t) => t.name === 'taskloom-workflow'), true)
  await assert.rejects(ex.counts({ internl: true }), /unknown counts\(\) option 'internl'/)
  await ex.close()
})

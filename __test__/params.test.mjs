// Parameters as JSON Schema, injected services and artifacts, on whichever store the run
// uses: every entry checks the payload and enqueues nothing it refuses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor, ParamsError, TaskFailedError } from '../index.mjs'

const ADD = {
  type: 'object',
  properties: { a: { type: 'integer', description: 'first' }, b: { type: 'integer' }, label: { type: 'string', default: 'sum' } },
  required: ['a', 'b'],
  additionalProperties: false,
}

async function total(ex) {
  const counts = await ex.counts()
  return Object.values(counts.total).reduce((x, y) => x + y, 0)
}

test('a params schema is checked at submit, submitMany, run and schedule; nothing refused is enqueued', async () => {
  const ex = new Executor()
  ex.register('add', ({ a, b }) => a + b, { params: ADD })
  try {
    assert.equal(await (await ex.submit('add', { a: 2, b: 3 })).result(), 5)
    const before = await total(ex)

    const e = await ex.submit('add', { a: 'x' }).catch((err) => err)
    assert.ok(e instanceof ParamsError, String(e))
    assert.ok(e instanceof TypeError)
    assert.equal(e.code, 'ERR_INVALID_PARAMS')
    assert.equal(e.task, 'add')
    assert.ok(e.issues.some((i) => i.path === '/a' && /integer/.test(i.message)), JSON.stringify(e.issues))
    assert.ok(e.issues.some((i) => i.path === '/' && /"b"/.test(i.message)), JSON.stringify(e.issues))
    assert.match(e.message, /task 'add' does not match its params: .*\/a/)

    await assert.rejects(ex.submit('add', { a: 1, b: 2, c: 3 }), ParamsError)
    await assert.rejects(ex.submit('add', [1, 2]), ParamsError)
    // A batch is all or nothing: one bad payload refuses all of them.
    await assert.rejects(ex.submitMany('add', [{ a: 1, b: 2 }, { a: 1 }]), (err) => err instanceof ParamsError)
    await assert.rejects(ex.run('add', { a: 1.5, b: 2 }), ParamsError)
    await assert.rejects(ex.schedule('add', '* * * * *', { b: 1 }), ParamsError)
    assert.deepEqual(await ex.schedules(), [])
    assert.equal(await total(ex), before)
    assert.equal(await ex.run('add', { a: 1, b: 1 }), 2)
  } finally {
    await ex.close()
  }
})

test('submits of one tick are batched, yet a refused payload rejects only its own submit', async () => {
  const ex = new Executor()
  ex.register('add', ({ a, b }) => a + b, { params: ADD })
  try {
    const calls = [ex.submit('add', { a: 1, b: 1 }), ex.submit('add', { a: 'no', b: 1 }), ex.submit('add', { a: 2, b: 2 })]
    const [one, bad, two] = await Promise.allSettled(calls)
    assert.equal(bad.status, 'rejected')
    assert.ok(bad.reason instanceof ParamsError)
    assert.equal(await one.value.result(), 2)
    assert.equal(await two.value.result(), 4)
  } finally {
    await ex.close()
  }
})

test('the shorthand maps onto a schema; info() shows the schema, its parameters and a signature', async () => {
  const ex = new Executor()
  ex.register('resize', (p) => p, { params: { url: 'string', width: 'number?', meta: 'any?' } })
  ex.register('add', ({ a, b }) => a + b, { params: ADD })
  try {
    const info = ex.info('resize')
    assert.deepEqual(info.params, {
      type: 'object',
      properties: { url: { type: 'string' }, width: { type: 'number' }, meta: {} },
      required: ['url'],
      additionalProperties: false,
    })
    assert.deepEqual(info.parameters, [
      { name: 'url', annotation: 'string', default: null, required: true },
      { name: 'width', annotation: 'number', default: null, required: false },
      { name: 'meta', annotation: 'any', default: null, required: false },
    ])
    assert.equal(info.signature, '(url: string, width?: number, meta?: any)')
    assert.deepEqual(ex.info('add').parameters[2], { name: 'label', annotation: 'string', default: 'sum', required: false })
    assert.deepEqual(ex.info('add').parameters[0].description, 'first')
    assert.equal(ex.info('add').signature, '(a: integer, b: integer, label?: string = "sum")')
    await (await ex.submit('resize', { url: 'u', meta: { any: ['thing'] } })).result()
    await assert.rejects(ex.submit('resize', { width: 3 }), /\/: "url" is a required property/)
    await assert.rejects(ex.submit('resize', { url: 'u', height: 3 }), ParamsError)
  } finally {
    await ex.close()
  }
})

test('a params spec that is not a schema is refused at register, naming the problem', async () => {
  const ex = new Executor()
  try {
    assert.throws(() => ex.register('a', () => 1, { params: { url: 'strng' } }), /`params.url` of task 'a' names an unknown type 'strng'/)
    assert.throws(() => ex.register('b', () => 1, { params: { url: 3 } }), /`params.url` of task 'b' must be a type name/)
    assert.throws(() => ex.register('c', () => 1, { params: { type: 'object', properties: { x: { type: 'strin' } } } }), /`params` of task 'c' is not a valid JSON Schema/)
    assert.throws(() => ex.register('d', () => 1, { params: 'string' }), /`params` of task 'd' must be a JSON Schema object/)
    assert.deepEqual(ex.tasks().map((t) => t.name), [])
  } finally {
    await ex.close()
  }
})

test('formats are checked: an email that is not one is refused', async () => {
  const ex = new Executor()
  ex.register('mail', (p) => p.to, { params: { type: 'object', properties: { to: { type: 'string', format: 'email' } }, required: ['to'] } })
  try {
    assert.equal(await (await ex.submit('mail', { to: 'a@example.com' })).result(), 'a@example.com')
    await assert.rejects(ex.submit('mail', { to: 'not an address' }), /\/to: .*email/)
  } finally {
    await ex.close()
  }
})

test('services reach every handler as ctx.services, in queued and direct runs', async () => {
  const db = { rows: [] }
  const ex = new Executor({ services: { db } })
  ex.register('insert', (row, ctx) => {
    ctx.services.db.rows.push(row)
    return ctx.services.db.rows.length
  })
  try {
    assert.equal(await (await ex.submit('insert', 'a')).result(), 1)
    assert.equal(await ex.run('insert', 'b'), 2)
    assert.deepEqual(db.rows, ['a', 'b'])
    assert.equal(ex.services.db, db)
    assert.ok(Object.isFrozen(ex.services))
  } finally {
    await ex.close()
  }
  assert.throws(() => new Executor({ services: [1] }), /`services` must be an object of named services/)
  assert.throws(() => new Executor({ services: null }), /`services` must be an object/)
})

test('ctx.saveArtifact keeps intermediate results with the task; they go when the task goes', async () => {
  const ex = new Executor()
  ex.register('steps', async (n, ctx) => {
    const ids = []
    for (let i = 1; i <= n; i++) ids.push(await ctx.saveArtifact({ step: i, html: '<b>x</b>' }, { tags: ['step', `n${i}`] }))
    return ids
  })
  ex.register('direct', (x, ctx) => ctx.saveArtifact(x))
  ex.register('badArtifact', (x, ctx) => ctx.saveArtifact({ f: () => x }))
  try {
    const h = await ex.submit('steps', 3)
    const ids = await h.result()
    assert.deepEqual(ids, [`${h.id}.1`, `${h.id}.2`, `${h.id}.3`])
    const list = await ex.artifacts(h.id)
    assert.deepEqual(list.map((a) => a.data), [{ step: 1, html: '<b>x</b>' }, { step: 2, html: '<b>x</b>' }, { step: 3, html: '<b>x</b>' }])
    assert.deepEqual(list[1].tags, ['step', 'n2'])
    assert.equal(list[0].taskId, h.id)
    assert.ok(list[0].createdAt instanceof Date && Math.abs(list[0].createdAt - Date.now()) < 60_000)
    const one = await ex.artifact(`${h.id}.2`)
    assert.deepEqual(one.data, { step: 2, html: '<b>x</b>' })
    assert.equal(await ex.artifact(`${h.id}.9`), undefined)
    await assert.rejects(ex.artifact('nope'), /'nope' is not an artifact id/)

    await assert.rejects(ex.run('direct', 1), /a direct run \(ex.run\) has no stored task/)
    const bad = await ex.submit('badArtifact', 1)
    await assert.rejects(bad.result(), (err) => err instanceof TaskFailedError && /artifact/.test(err.message) && /function/.test(err.message))
    assert.deepEqual(await ex.artifacts(bad.id), [])

    await ex.remove(h.id)
    assert.deepEqual(await ex.artifacts(h.id), [])
    assert.equal(await ex.artifact(`${h.id}.1`), undefined)
  } finally {
    await ex.close()
  }
})

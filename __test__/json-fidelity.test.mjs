// JSON fidelity: any value that survives JSON.stringify/JSON.parse in JS comes back
// identical through every store and across processes (payloads, results, info), and a
// value JSON cannot hold is refused with its path — in payloads and in results — with
// nothing enqueued.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { Executor, TaskFailedError } from '../index.mjs'
import { startRedis } from './support/redis-server.mjs'
import { spawnNode } from './support/processes.mjs'

const echoWorker = fileURLToPath(new URL('./fixtures/echo-worker.mjs', import.meta.url))
const roundTrip = (v) => JSON.parse(JSON.stringify(v))

function nested(levels, leaf) {
  let v = leaf
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { v }
  return v
}

/** Values the first wave turned into null: deep nesting, lone surrogates. */
const HARD_VALUES = [
  nested(128, 'deep'),
  nested(1000, 1),
  '\ud800',
  { lone: 'a\udc00b', pair: '😀', both: ['\udbff', '\u0000', '\u2028'] },
  { big: 2 ** 53 + 2, tiny: 5e-324, neg: -1.5e300 },
]

/** JSON values, strings of any UTF-16 code units (lone surrogates included). */
const jsonValues = fc.jsonValue({ maxDepth: 6, depthSize: 'small' }).chain((v) =>
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => ({ v, s })),
)

let redis
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis?.stop()
})

function tempDb() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-json-'))
  return { url: `sqlite:${path.join(dir, 'tasks.db')}`, dir }
}

test('hard values round-trip through the default store: result, info().payload, info().result', async () => {
  const ex = new Executor()
  ex.register('echo', (p) => p)
  for (const value of HARD_VALUES) {
    const t = await ex.submit('echo', value)
    assert.deepEqual(await t.result(), roundTrip(value))
    const info = await t.info()
    assert.deepEqual(info.payload, roundTrip(value))
    assert.deepEqual(info.result, roundTrip(value))
  }
  await ex.close()
})

test('property: arbitrary JSON values round-trip through the default store', async () => {
  const ex = new Executor({ concurrency: 32 })
  ex.register('echo', (p) => p)
  await fc.assert(
    fc.asyncProperty(jsonValues, async (value) => {
      const t = await ex.submit('echo', value)
      assert.deepEqual(await t.result(), roundTrip(value))
      assert.deepEqual((await t.info()).payload, roundTrip(value))
    }),
    { numRuns: 150 },
  )
  await ex.close()
})

test('workflows carry hard values exactly: chain steps, group results, chord callbacks', async () => {
  const { chain, group, chord, sig } = await import('../index.mjs')
  const ex = new Executor()
  ex.register('echo', (p) => p)
  ex.register('wrap', (args) => ({ got: args }))
  // The workflow's spec wraps each payload in a few levels of its own.
  for (const value of [...HARD_VALUES.slice(0, 1), nested(990, 1), ...HARD_VALUES.slice(2)]) {
    const wf = await ex.submit(chain(sig('echo', value), sig('wrap')))
    assert.deepEqual(await wf.result(), { got: [roundTrip(value)] })
    const g = await ex.submit(group(sig('echo', value), sig('echo', [value, '\udfff'])))
    assert.deepEqual(await g.result(), [roundTrip(value), [roundTrip(value), '\udfff']])
    const c = await ex.submit(chord([sig('echo', value)], sig('wrap', ['\ud800'])))
    assert.deepEqual(await c.result(), { got: [[roundTrip(value)], '\ud800'] })
  }
  await ex.close()
})

for (const kind of ['sqlite', 'redis']) {
  test(`property (${kind}): values round-trip across processes (producer here, worker in a child)`, async () => {
    const place = kind === 'sqlite' ? tempDb() : { url: redis.url }
    const namespace = kind === 'redis' ? `json-${process.pid}` : undefined
    const child = spawnNode([echoWorker, place.url, ...(namespace ? [namespace] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    await new Promise((resolve) => child.stdout.once('data', resolve))
    const producer = new Executor({ store: place.url, ...(namespace ? { namespace } : {}), worker: false })
    producer.register('echo', () => null)
    try {
      for (const value of HARD_VALUES) {
        const t = await producer.submit('echo', value)
        assert.deepEqual(await t.result({ timeoutMs: 20_000 }), roundTrip(value))
        assert.deepEqual((await t.info()).result, roundTrip(value))
      }
      await fc.assert(
        fc.asyncProperty(jsonValues, async (value) => {
          const t = await producer.submit('echo', value)
          assert.deepEqual(await t.result({ timeoutMs: 20_000 }), roundTrip(value))
        }),
        { numRuns: 60 },
      )
    } finally {
      await producer.close()
      child.kill('SIGTERM')
      await exited
      if (place.dir) fs.rmSync(place.dir, { recursive: true, force: true })
    }
  })
}

class Point {
  constructor(x) {
    this.x = x
  }
}

const REFUSED = [
  [NaN, /payload is NaN/],
  [{ a: [1, Infinity] }, /payload\.a\[1\] is Infinity/],
  [{ n: -Infinity }, /payload\.n is -Infinity/],
  [new Map([[1, 2]]), /payload is a Map/],
  [{ s: new Set([1]) }, /payload\.s is a Set/],
  [{ bytes: new Uint8Array(2) }, /payload\.bytes is a Uint8Array/],
  [{ p: new Point(1) }, /payload\.p is an instance of Point/],
  [[1, undefined], /payload\[1\] is undefined/],
  [{ when: new Date(NaN) }, /payload\.when is an invalid Date/],
  [{ f: () => 1 }, /payload\.f is a function/],
  [{ n: 10n }, /payload\.n is a bigint/],
  [nested(1001, 1), /nests deeper than 1000 levels/],
  [nested(10_000, 1), /nests deeper than 1000 levels/],
]

test('values JSON cannot hold are refused at submit with their path; nothing is enqueued', async () => {
  const ex = new Executor({ worker: false, store: tempDb().url })
  ex.register('t', () => null)
  for (const [value, message] of REFUSED) {
    await assert.rejects(ex.submit('t', value), (err) => err instanceof TypeError && message.test(err.message), String(message))
    await assert.rejects(ex.submitMany('t', [1, value]), (err) => err instanceof TypeError && /index 1/.test(err.message))
  }
  const cyclic = { a: {} }
  cyclic.a.back = cyclic
  await assert.rejects(ex.submit('t', cyclic), /payload\.a\.back is a circular reference/)
  assert.deepEqual((await ex.counts()).total.PENDING ?? 0, 0, 'nothing was enqueued')
  // Values that serialize themselves soundly are fine.
  const when = new Date(0)
  await ex.submit('t', { when, buf: Buffer.from('hi') })
  await ex.close()
})

test('a handler result JSON cannot hold fails the task with a TypeError naming the path', async () => {
  const ex = new Executor()
  ex.register('bad', (i) => [NaN, { m: new Map() }, [undefined], nested(2000, 0)][i])
  const expected = [/result is NaN/, /result\.m is a Map/, /result\[0\] is undefined/, /nests deeper than 1000/]
  for (let i = 0; i < expected.length; i++) {
    const t = await ex.submit('bad', i, {})
    await assert.rejects(t.result(), (err) => err instanceof TaskFailedError && err.errorType === 'TypeError' && expected[i].test(err.errorMessage))
  }
  await ex.close()
})

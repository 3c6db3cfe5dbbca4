// A Redis submitMany is all or nothing: a producer killed in the middle of a big batch,
// or a redis-server killed in the middle, leaves either the whole batch or none of it;
// and a call whose outcome cannot be known says so.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { Executor, StoreError } from '../index.mjs'
import { startRedis } from './support/redis-server.mjs'
import { sleep, spawnNode } from './support/processes.mjs'

const bigSubmit = fileURLToPath(new URL('./fixtures/big-submit.mjs', import.meta.url))
const N = 20_000

async function stored(url, namespace) {
  const ex = new Executor({ store: url, namespace, worker: false })
  const counts = await ex.counts()
  await ex.close()
  return counts.total.PENDING ?? 0
}

test('a producer killed in the middle of a 20,000-task submitMany leaves all of it or none', async () => {
  const redis = await startRedis()
  try {
    const seen = new Set()
    for (const [trial, delayMs] of [5, 15, 30, 45, 60, 80, 110, 150].entries()) {
      const namespace = `atomic-kill-${trial}`
      const child = spawnNode([bigSubmit, redis.url, namespace, N], { stdio: ['ignore', 'pipe', 'inherit'] })
      const exited = new Promise((resolve) => child.on('exit', resolve))
      await new Promise((resolve) => child.stdout.once('data', resolve))
      await sleep(delayMs)
      child.kill('SIGKILL')
      await exited
      const n = await stored(redis.url, namespace)
      assert.ok(n === 0 || n === N, `trial ${trial} (killed after ${delayMs} ms): ${n} of ${N} tasks stored`)
      seen.add(n)
    }
    assert.ok(seen.size >= 1)
  } finally {
    await redis.stop()
  }
})

test('redis-server killed in the middle of a submitMany: all or none, and the error says whether it is known', async () => {
  const redis = await startRedis({ aof: true })
  try {
    for (const [trial, delayMs] of [2, 10, 25, 50].entries()) {
      const namespace = `atomic-server-${trial}`
      const ex = new Executor({ store: redis.url, namespace, worker: false })
      ex.on('error', () => {}) // the outage is reported; this test looks at the submit itself
      ex.register('bulk', () => null)
      const payloads = Array.from({ length: N }, (_, i) => ({ i, pad: 'p'.repeat(64) }))
      const submitted = ex.submitMany('bulk', payloads).then(
        (handles) => ({ ok: true, handles }),
        (error) => ({ ok: false, error }),
      )
      await sleep(delayMs)
      await redis.kill()
      const outcome = await submitted
      await redis.start()
      const n = await stored(redis.url, namespace)
      assert.ok(n === 0 || n === N, `trial ${trial}: ${n} of ${N} tasks stored`)
      if (outcome.ok) {
        assert.equal(n, N, 'an acknowledged batch is stored whole')
      } else {
        assert.ok(outcome.error instanceof StoreError, String(outcome.error))
        if (n === N) assert.match(outcome.error.message, /outcome of this submit is unknown/, 'stored, so the error must not say it was not')
        else assert.match(outcome.error.message, /unknown|nothing was stored/)
      }
      await ex.close()
    }
  } finally {
    await redis.stop()
  }
})

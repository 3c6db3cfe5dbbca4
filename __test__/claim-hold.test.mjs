// Tasks a worker claimed but whose JS thread is blocked (a handler that never yields) go
// back to the store after `claimHoldMs`, and an idle worker runs them; the blocked task
// itself keeps its lease (its writer thread renews it) and finishes where it started.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Executor } from '../index.mjs'
import { startRedis } from './support/redis-server.mjs'
import { sleep, spawnNode } from './support/processes.mjs'

const fixture = fileURLToPath(new URL('./fixtures/blocking-worker.mjs', import.meta.url))
let redis
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis?.stop()
})

async function startWorker(store, namespace, role) {
  const child = spawnNode([fixture, store, namespace, role, 200], { stdio: ['ignore', 'pipe', 'inherit'] })
  child.exited = new Promise((resolve) => child.on('exit', resolve))
  await new Promise((resolve) => child.stdout.once('data', resolve))
  return child
}

for (const kind of ['sqlite', 'redis']) {
  test(`${kind}: claimed tasks stuck behind a blocked JS thread go to an idle worker`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-hold-'))
    const store = kind === 'sqlite' ? `sqlite:${path.join(dir, 'tasks.db')}` : redis.url
    const namespace = `hold-${process.pid}`
    const producer = new Executor({ store, namespace, worker: false })
    producer.register('block', () => null)
    producer.register('quick', () => null)
    const blocker = await startWorker(store, namespace, 'blocker')
    let idle
    try {
      const block = await producer.submit('block', 4000)
      // Wait until the blocker is inside the block, then bring up an idle worker.
      // (Claimed is all the store can show: STARTED is written once the JS thread is back.)
      for (let i = 0; i < 500 && (await block.state()) === 'PENDING'; i++) await sleep(10)
      assert.equal(await block.state(), 'RECEIVED')
      await sleep(300)
      idle = await startWorker(store, namespace, 'plain')
      const quick = []
      for (let i = 0; i < 7; i++) {
        quick.push(await producer.submit('quick', i))
        await sleep(20)
      }
      const quickInfo = await Promise.all(quick.map(async (t) => (await t.result({ timeoutMs: 30_000 }), t.info())))
      const blockWorker = await block.result({ timeoutMs: 30_000 })
      const blockInfo = await block.info()
      for (const q of quickInfo) {
        assert.ok(q.completedAt < blockInfo.completedAt, `quick task ${q.id} (run by ${q.workerId}) finished while the block ran`)
      }
      assert.equal(blockInfo.workerId, blockWorker, 'the blocked task finished on its own worker')
      assert.equal(blockInfo.attempt, 1, 'and ran once')
    } finally {
      await producer.close()
      for (const c of [blocker, idle]) if (c) c.kill('SIGTERM')
      await Promise.all([blocker.exited, idle?.exited])
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}

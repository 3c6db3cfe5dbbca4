// The Redis store on a real 3-node Redis Cluster: a redis+cluster:// URL works from any
// node (the store talks to the node owning its namespace's slot), follows the slot when
// it moves (MOVED/ASK during a resharding), and a plain URL at a cluster node — or a
// cluster URL at a plain server — is refused at construction. Also the exact ACL a
// namespace needs, on a plain server.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { Executor, StoreError } from '../index.mjs'
import { startCluster } from './support/redis-cluster.mjs'
import { startRedis } from './support/redis-server.mjs'

let cluster
before(async () => {
  cluster = await startCluster()
})
after(async () => {
  await cluster?.stop()
})

async function runSome(store, namespace, n) {
  const ex = new Executor({ store, namespace, concurrency: 16 })
  ex.register('double', async (x, ctx) => {
    ctx.progress(50)
    return x * 2
  })
  const handles = await ex.submitMany('double', Array.from({ length: n }, (_, i) => i))
  const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })))
  await ex.close()
  return results
}

test('a plain redis:// URL at a cluster node is refused at construction, and a cluster URL at a plain server', async () => {
  assert.throws(
    () => new Executor({ store: `redis://127.0.0.1:${cluster.ports[0]}` }),
    (e) => e instanceof StoreError && /Redis Cluster node: use a redis\+cluster:\/\//.test(e.message),
  )
  const plain = await startRedis()
  try {
    assert.throws(() => new Executor({ store: plain.url.replace('redis://', 'redis+cluster://') }), /not a Redis Cluster node/)
  } finally {
    await plain.stop()
  }
})

test('redis+cluster:// works from every node, whichever owns the namespace', async () => {
  const namespace = `cl-${process.pid}`
  const owner = cluster.ownerOf(cluster.slotOf(`{${namespace}}`))
  assert.ok(cluster.ports.includes(owner))
  for (let i = 0; i < 3; i++) {
    const results = await runSome(cluster.url(i), `${namespace}-${i}`, 200)
    assert.deepEqual(results, Array.from({ length: 200 }, (_, k) => k * 2), `seed node ${i}`)
  }
})

test('the store follows its slot to another node (a resharding: ASK, then MOVED)', async () => {
  const namespace = `move-${process.pid}`
  const slot = cluster.slotOf(`{${namespace}}`)
  const ex = new Executor({ store: cluster.url(0), namespace, concurrency: 8 })
  ex.register('double', (x) => x * 2)
  const first = await ex.submitMany('double', Array.from({ length: 100 }, (_, i) => i))
  assert.equal(await first[99].result({ timeoutMs: 20_000 }), 198)
  const from = cluster.ownerOf(slot)
  const to = cluster.ports.find((p) => p !== from)
  cluster.moveSlot(slot, to)
  assert.equal(cluster.ownerOf(slot), to)
  const second = await ex.submitMany('double', Array.from({ length: 100 }, (_, i) => 1000 + i))
  const results = await Promise.all(second.map((h) => h.result({ timeoutMs: 20_000 })))
  assert.equal(results[99], 2198)
  assert.equal((await first[0].info()).state, 'SUCCESS', 'tasks stored before the move are still read')
  assert.equal((await ex.counts()).total.SUCCESS, 200)
  await ex.close()
})

test('the documented ACL is enough for a namespace, and one without the bare {ns} key is refused at construction', async () => {
  const redis = await startRedis()
  const cli = (...args) => execFileSync('redis-cli', ['-p', String(redis.port), ...args]).toString().trim()
  try {
    const ns = 'acl'
    // As in the README ("Redis ACL"):
    cli('ACL', 'SETUSER', 'worker', 'on', '>secret', 'resetkeys', `~{${ns}}`, `~{${ns}}:*`, 'resetchannels', `&{${ns}}:ev`,
      '-@all', '+@read', '+@write', '+@scripting', '+@pubsub', '+@connection', '+info')
    const url = `redis://worker:secret@127.0.0.1:${redis.port}`
    assert.deepEqual(await runSome(url, ns, 50), Array.from({ length: 50 }, (_, k) => k * 2))
    cli('ACL', 'SETUSER', 'narrow', 'on', '>secret', 'resetkeys', `~{${ns}}:*`, 'resetchannels', `&{${ns}}:ev`,
      '-@all', '+@read', '+@write', '+@scripting', '+@pubsub', '+@connection', '+info')
    assert.throws(
      () => new Executor({ store: `redis://narrow:secret@127.0.0.1:${redis.port}`, namespace: ns }),
      (e) => e instanceof StoreError && /NOPERM|no permissions/i.test(e.message),
    )
  } finally {
    await redis.stop()
  }
})

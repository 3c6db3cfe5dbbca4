// close() releases what the executor holds: files, sockets, threads. The descriptor
// and thread counts of this process stay flat across many create/close cycles on every store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor } from '../index.mjs'
import { startRedis } from './support/redis-server.mjs'
import { sleep } from './support/processes.mjs'

const CYCLES = 1000
const openDescriptors = () => fs.readdirSync('/proc/self/fd').length
const threads = () => Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1])

/** Creates, uses and closes `CYCLES` executors on `store`; the descriptors before and after. */
async function cycles(store) {
  const once = async (i) => {
    const ex = new Executor({ store, concurrency: 2 })
    ex.register('one', (n) => n + 1)
    const t = await ex.submit('one', i)
    assert.equal(await t.result(), i + 1)
    await ex.close()
    assert.equal(await t.state(), 'SUCCESS', 'a closed executor still reads')
  }
  await once(-1) // the first cycle loads what stays loaded (the addon, thread pools)
  await sleep(300)
  const before = openDescriptors()
  const threadsBefore = threads()
  for (let i = 0; i < CYCLES; i++) await once(i)
  await sleep(300) // Redis subscribers notice the close within their read timeout
  assert.ok(threads() <= threadsBefore + 1, `threads: ${threadsBefore} before, ${threads()} after`)
  return { before, after: openDescriptors() }
}

test(`SQLite: descriptors and threads stay flat across ${CYCLES} create/close cycles`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-fds-'))
  try {
    const { before, after } = await cycles(`sqlite:${path.join(dir, 'tasks.db')}`)
    assert.ok(after <= before + 2, `descriptors: ${before} before, ${after} after`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test(`Redis: descriptors, threads and server clients stay flat across ${CYCLES} create/close cycles`, async () => {
  const redis = await startRedis()
  try {
    const clients = () => execFileSync('redis-cli', ['-p', String(redis.port), 'CLIENT', 'LIST']).toString().trim().split('\n').length
    const clientsBefore = clients()
    const { before, after } = await cycles(redis.url)
    assert.ok(after <= before + 2, `descriptors: ${before} before, ${after} after`)
    assert.ok(clients() <= clientsBefore + 1, `server clients: ${clientsBefore} before, ${clients()} after`)
  } finally {
    await redis.stop()
  }
})

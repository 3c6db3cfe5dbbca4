// Stores for tests with real worker processes: a fresh SQLite file, or a fresh namespace
// on the test file's own redis-server (started before its tests, stopped by pid after).
import { before, after } from 'node:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startRedis } from './redis-server.mjs'

/**
 * Starts a private redis-server for this test file; returns `place(kind)`, which gives
 * `{ store, namespace }` (namespace '-' for SQLite), and `redis()`, the server.
 */
export function placesForThisFile(prefix) {
  let server
  let count = 0
  before(async () => {
    server = await startRedis()
  })
  after(async () => {
    await server.stop()
  })
  return {
    redis: () => server,
    place(kind) {
      if (kind === 'sqlite') {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `taskloom-${prefix}-`))
        return { store: `sqlite:${path.join(dir, 'tasks.db')}`, namespace: '-' }
      }
      return { store: server.url, namespace: `${prefix}${process.pid}-${++count}` }
    },
  }
}

/** Executor options for a place. */
export function storeOptions(p) {
  return { store: p.store, ...(p.namespace === '-' ? {} : { namespace: p.namespace }) }
}

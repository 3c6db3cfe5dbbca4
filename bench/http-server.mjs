// Child process of the HTTP benchmark: an executor on <store> with one trivial task,
// served by taskloom/http on a free loopback port. Prints `{"url":…}`; on SIGTERM prints
// the store's counts and exits.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor } from '../index.mjs'
import { serve } from '../http.mjs'

const [kind] = process.argv.slice(2)
let store = 'memory'
if (kind === 'sqlite') store = `sqlite:${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-http-bench-')), 'tasks.db')}`
// Memory keeps every finished task for the count at the end.
const ex = new Executor({ store, concurrency: 256, keepResults: { count: 10_000_000 } })
ex.register('add', ({ a, b }) => a + b, { params: { a: 'integer', b: 'integer' } })
const server = await serve(ex, { port: 0 })
process.stdout.write(JSON.stringify({ url: server.url }) + '\n')
process.on('SIGTERM', async () => {
  await ex.onIdle()
  const counts = await ex.counts()
  await server.close()
  await ex.close()
  process.stdout.write(JSON.stringify(counts.total) + '\n')
  process.exit(0)
})

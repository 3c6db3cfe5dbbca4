// ESM: named imports and the default export are the same objects; a task runs, on SQLite too.
import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'
import taskloom, { Executor, chain, sig } from 'taskloom'
import { serve } from 'taskloom/http'

assert.equal(taskloom.Executor, Executor)
const ex = new Executor({ concurrency: 4 })
ex.register('add', ([a, b]) => a + b)
assert.equal(await (await ex.submit('add', [2, 3])).result(), 5)
assert.equal(await (await ex.submit(chain(sig('add', [1, 1])))).result(), 2)
await ex.close()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-esm-'))
const durable = new Executor({ store: `sqlite:${path.join(dir, 't.db')}` })
durable.register('twice', (x) => x * 2)
assert.equal(await (await durable.submit('twice', 21)).result(), 42)
await durable.close()
fs.rmSync(dir, { recursive: true })
// The HTTP API subpath.
const api = new Executor()
api.register('hello', () => 'hi', { params: { name: 'string?' } })
const server = await serve(api, { port: 0 })
const tasks = await (await fetch(`${server.url}/api/v1/tasks`)).json()
assert.deepEqual(tasks.map((t) => t.name), ['hello'])
await server.close()
await api.close()
console.log(`esm ok on ${process.version}`)

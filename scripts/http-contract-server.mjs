// The server schemathesis tests (scripts/schemathesis.sh): the seed's tasks on a fresh
// SQLite file, served by taskloom/http with a token. Prints its URL; runs until SIGTERM.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor } from '../index.mjs'
import { serve } from '../http.mjs'
import { registerSeedTasks } from '../examples/seed-tasks.mjs'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-schemathesis-'))
const ex = new Executor({ store: `sqlite:${path.join(dir, 'tasks.db')}` })
registerSeedTasks(ex)
await ex.schedule('add', '0 * * * *', { a: 1, b: 2 })
const server = await serve(ex, { port: 0, token: process.env.TOKEN, logger: (m, e) => console.error(m, e) })
process.stdout.write(`${server.url}\n`)
process.on('SIGTERM', async () => {
  await server.close()
  await ex.close()
  fs.rmSync(dir, { recursive: true, force: true })
  process.exit(0)
})

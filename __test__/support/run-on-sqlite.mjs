// Runs every public-API suite again with the SQLite store as the default store (see
// sqlite-store.cjs): the JS half of the store conformance suite.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const preload = fileURLToPath(new URL('./sqlite-store.cjs', import.meta.url))
const root = path.resolve(path.dirname(preload), '..', '..')
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`.trim() }
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '__test__/'], { cwd: root, env, stdio: 'inherit' })
process.exit(r.status ?? 1)

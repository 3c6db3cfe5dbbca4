// Runs every public-API suite again with the SQLite store as the default store (see
// sqlite-store.cjs): the JS half of the store conformance suite.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const preload = fileURLToPath(new URL('./sqlite-store.cjs', import.meta.url))
const root = path.resolve(path.dirname(preload), '..', '..')
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`.trim() }
// --test-timeout: a test that hangs fails after 5 minutes instead of holding the run.
const args = ['--test', '--test-concurrency=1', '--test-timeout=300000', ...(process.argv.length > 2 ? process.argv.slice(2) : ['__test__/'])]
const r = spawnSync(process.execPath, args, { cwd: root, env, stdio: 'inherit' })
process.exit(r.status ?? 1)

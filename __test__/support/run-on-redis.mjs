// Runs every public-API suite again with the Redis store as the default store (see
// redis-store.cjs), on a redis-server of its own: the JS half of the store conformance
// suite for Redis.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { startRedis } from './redis-server.mjs'

const preload = fileURLToPath(new URL('./redis-store.cjs', import.meta.url))
const root = path.resolve(path.dirname(preload), '..', '..')
const server = await startRedis()
const env = {
  ...process.env,
  TASKLOOM_TEST_REDIS_URL: server.url,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`.trim(),
}
// --test-timeout: a test that hangs fails after 5 minutes instead of holding the run.
const args = ['--test', '--test-concurrency=1', '--test-timeout=300000', ...(process.argv.length > 2 ? process.argv.slice(2) : ['__test__/'])]
const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' })
const code = await new Promise((r) => child.on('exit', (c) => r(c ?? 1)))
await server.stop()
process.exit(code)

// Helpers of the tests that run real worker processes: waiting, and reading the log the
// workers append "<what> <id> <pid>" lines to.
import fs from 'node:fs'
import { spawn } from 'node:child_process'
import { after } from 'node:test'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves once `check()` (may be async) is true; rejects after `timeoutMs`. */
export async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** The log's lines as [what, id, pid]. */
export function lines(log) {
  if (!fs.existsSync(log)) return []
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
}

// Children still alive when a file's tests end: a test that failed before stopping its
// workers must not leave them running, since their open pipes would keep the test file's
// process (and the whole run) from ever ending.
const live = new Set()
after(() => {
  for (const child of live) child.kill('SIGKILL')
})

/** `spawn(node, args, options)`, killed when this file's tests end if still alive. */
export function spawnNode(args, options) {
  const child = spawn(process.execPath, args, options)
  live.add(child)
  child.on('exit', () => live.delete(child))
  return child
}

/**
 * Starts `node <fixture> ...args` and resolves once it prints "ready":
 * `{ child, exited }` (`exited` resolves with its exit code).
 */
export async function startReady(fixture, args) {
  const child = spawnNode([fixture, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => d.toString().includes('ready') && resolve())
    child.once('exit', () => reject(new Error(`${fixture} exited before it was ready`)))
  })
  return { child, exited }
}

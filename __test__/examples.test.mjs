// The runnable examples the README points to run and print what they promise.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const run = (file) =>
  execFileSync(process.execPath, [fileURLToPath(new URL(`../examples/${file}`, import.meta.url))], { encoding: 'utf8', timeout: 120_000 })

test('examples/workflows.mjs: the seed workflows and a schedule', () => {
  const out = run('workflows.mjs')
  assert.match(out, /^chain: 9$/m)
  assert.match(out, /^group: \[ 3, 7, 11 \]$/m)
  assert.match(out, /^chord: 21$/m)
  assert.match(out, /^pipeline: 3 items, first: \{"processed":\{"data":"content from https:\/\/api\.example\.com\/1"\}\}$/m)
  assert.match(out, /^order: chain step 2 \(task 'charge', id [0-9a-f-]{36}\) failed: Error: card declined$/m)
  assert.match(out, /^order members: add SUCCESS, charge FAILURE, multiply REVOKED$/m)
  assert.match(out, /^ticked twice with payload \{"from":"cron"\}$/m)
})

test('examples/demo.mjs: the demo on a SQLite file runs to its end', () => {
  const out = run('demo.mjs')
  assert.match(out, /^chain \(1 \+ 2\) × 3 = 9$/m)
  assert.match(out, /^chord sum = 21 /m)
  assert.match(out, /ticked 2 times, then was removed$/m)
  assert.match(out, /^add\(1, 2\), read back by id from another executor: 3$/m)
})

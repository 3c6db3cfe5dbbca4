// Delays, timeouts and cron ticks any distance ahead (10 years here) behave: no early
// firing, no TimeoutOverflowWarning, and no CPU spent while waiting.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Executor } from '../index.mjs'
import { sleep } from './support/processes.mjs'

const DAY = 86_400_000
const warnings = []
process.on('warning', (w) => warnings.push(w))

/** CPU time (ms) this process uses over `ms` of wall time. */
async function cpuOver(ms) {
  const before = process.cpuUsage()
  await sleep(ms)
  const d = process.cpuUsage(before)
  return (d.user + d.system) / 1000
}

test('a 30-day timeoutMs does not fire early', async () => {
  const ex = new Executor()
  ex.register('slowish', async () => {
    await sleep(30)
    return 'done'
  }, { timeoutMs: 30 * DAY })
  const t = await ex.submit('slowish')
  assert.equal(await t.result({ timeoutMs: 40 * DAY }), 'done')
  await ex.close({ timeoutMs: 365 * DAY })
  assert.deepEqual(warnings.map((w) => w.name), [])
})

test('tasks delayed 30 days and 10 years wait idle, and a yearly schedule too', async () => {
  const ex = new Executor()
  ex.register('later', () => 1)
  const month = await ex.submit('later', null, { delayMs: 30 * DAY })
  const decade = await ex.submit('later', null, { delayMs: 3650 * DAY })
  await ex.schedule('later', '0 0 1 1 *', null)
  await sleep(50)
  const cpu = await cpuOver(1000)
  assert.ok(cpu < 100, `idle while waiting (${cpu.toFixed(1)} ms of CPU in 1 s)`)
  assert.equal(await month.state(), 'PENDING')
  assert.equal(await decade.state(), 'PENDING')
  const info = await decade.info()
  assert.ok(Math.abs(info.runAt.getTime() - (Date.now() + 3650 * DAY)) < 60_000, 'runAt is ten years ahead')
  assert.deepEqual(warnings.map((w) => w.name), [], 'no TimeoutOverflowWarning')
  await month.cancel()
  await decade.cancel()
  await ex.close()
})

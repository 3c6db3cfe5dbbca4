// Workflows and a cron schedule, as in the README (`node examples/workflows.mjs`).
// Runs on the memory store unless TASKLOOM_STORE names another.
import { Executor, sig, chain, group, chord } from 'taskloom'

const ex = new Executor()
ex.register('add', async ([x, y]) => x + y)
ex.register('multiply', async ([x, y]) => x * y)
ex.register('sum_all', async ([numbers]) => numbers.reduce((a, b) => a + b, 0))

// Chain: (1 + 2) × 3 = 9. multiply gets [3, 3]: the previous result comes first.
const c = await ex.submit(chain(sig('add', [1, 2]), sig('multiply', [3])))
console.log('chain:', await c.result())

// Group: all at once, results in order.
const g = await ex.submit(group(sig('add', [1, 2]), sig('add', [3, 4]), sig('add', [5, 6])))
console.log('group:', await g.result())

// Chord: a group, then a callback with the list of its results: sum_all([[3, 7, 11]]).
const ch = await ex.submit(chord([sig('add', [1, 2]), sig('add', [3, 4]), sig('add', [5, 6])], sig('sum_all')))
console.log('chord:', await ch.result())

// A chord over chains: fetch → process for each URL, then aggregate.
ex.register('fetch_data', async ([url]) => ({ data: `content from ${url}` }), { queue: 'io' })
ex.register('process_data', async ([data]) => ({ processed: data }), { queue: 'cpu' })
ex.register('aggregate', async ([results]) => ({ total: results.length, items: results }), { queue: 'cpu' })
const urls = ['https://api.example.com/1', 'https://api.example.com/2', 'https://api.example.com/3']
const pipeline = await ex.submit(chord(urls.map((url) => chain(sig('fetch_data', [url]), sig('process_data'))), sig('aggregate')))
const summary = await pipeline.result()
console.log('pipeline:', summary.total, 'items, first:', JSON.stringify(summary.items[0]))

// A failed member fails the workflow, naming it; the steps after it never run.
ex.register('charge', async () => {
  throw new Error('card declined')
})
const order = await ex.submit(chain(sig('add', [1, 1]), sig('charge'), sig('multiply', [10])))
await order.result().catch((err) => console.log('order:', err.errorMessage))
console.log('order members:', (await order.members()).map((m) => `${m.name} ${m.state}`).join(', '))

// A cron schedule: every second (6 fields, seconds first); each tick submits a task.
let ticks = 0
const twoTicks = new Promise((resolve) => {
  ex.register('heartbeat', (payload) => {
    if (++ticks === 2) resolve(payload)
  })
})
const s = await ex.schedule('heartbeat', '* * * * * *', { from: 'cron' }, { id: 'heartbeat' })
console.log('schedule:', s.id, 'next run at', s.nextRunAt.toISOString())
console.log('ticked twice with payload', JSON.stringify(await twoTicks))
await ex.removeSchedule('heartbeat')
await ex.close()

// The dashboard on a SQLite store, with work to look at: tasks that report progress and
// log, one that fails, a rate-limited one, one behind a circuit breaker, a chord and a
// cron schedule. Run it with `node examples/dashboard.mjs [port]`, then open the printed
// address. Ctrl-C stops it.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Executor, sig, chord, chain } from '../index.mjs'
import { serve } from '../http.mjs'

const store = process.env.TASKLOOM_STORE ?? `sqlite:${join(tmpdir(), `taskloom-dashboard-${process.pid}.db`)}`
const ex = new Executor({ store, concurrency: 8 })
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const done = () => (clearTimeout(t), signal?.removeEventListener('abort', done), resolve())
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done)
  })

ex.register('resize_image', async ({ url, width }, ctx) => {
  for (let p = 0; p <= 100 && !ctx.signal.aborted; p += 10) {
    ctx.progress(p, `resizing to ${width}px`)
    if (p % 30 === 0) ctx.log(`at ${p}% of ${url}`)
    await sleep(300, ctx.signal)
  }
  return { url, width, bytes: 1000 + width * 37 }
}, { params: { url: 'string', width: 'integer' }, description: 'Resizes an image (pretends to).', tags: ['media'] })
ex.register('send_email', async ({ to }) => {
  await sleep(50)
  if (Math.random() < 0.2) throw new Error(`mailbox ${to} is full`)
  return { sent: true }
}, { queue: 'email', retry: { maxRetries: 1, delayMs: 500 }, rateLimit: { limit: 5, intervalMs: 1000 }, params: { type: 'object', properties: { to: { type: 'string', format: 'email' } }, required: ['to'] } })
ex.register('charge_card', async () => {
  await sleep(20)
  throw new Error('payment gateway timed out')
}, { queue: 'payments', circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 30_000 } })
ex.register('add', ([a, b]) => a + b)
ex.register('sum', ([xs]) => xs.reduce((a, b) => a + b, 0))
ex.register('report', async (_p, ctx) => {
  ctx.status('collecting')
  await sleep(200)
  return { at: new Date().toISOString() }
})

await ex.schedule('report', '*/1 * * * *')
const server = await serve(ex, { port: Number(process.argv[2] ?? 8000) })
console.log(`taskloom dashboard: ${server.url}/ui/ (store ${store})`)

for (let i = 0; i < 6; i++) await ex.submit('resize_image', { url: `https://example.com/${i}.png`, width: 200 + i * 100 })
for (let i = 0; i < 20; i++) await ex.submit('send_email', { to: `user${i}@example.com` })
for (let i = 0; i < 4; i++) await ex.submit('charge_card', { amount: 10 * i })
await ex.submit(chord([sig('add', [1, 2]), sig('add', [3, 4]), chain(sig('add', [5, 6]), sig('add', [7]))], sig('sum')))

const timer = setInterval(() => {
  ex.submit('send_email', { to: `later${Date.now() % 1000}@example.com` }).catch(() => {})
}, 700)
process.on('SIGINT', async () => {
  clearInterval(timer)
  await server.close()
  await ex.close({ timeoutMs: 2000 })
  process.exit(0)
})

// A TypeScript consumer of the public API, type-checked with `tsc --strict` by `npm test`.
// The @ts-expect-error lines prove that misuse does not type-check.
import {
  Executor,
  TaskFailedError,
  TaskCancelledError,
  TimeoutError,
  NonRetryableError,
  CircuitOpenError,
  type TaskContext,
  type QueueInfo,
  type JsonValue,
  type TaskHandle,
  type PrometheusCollector,
  type MetricsSnapshot,
  type TaskMetrics,
  type TaskInfo,
  type TaskState,
  type TaskDefinitionInfo,
  type ArtifactInfo,
} from 'taskloom'
import type { HttpServer } from 'taskloom/http'

const ex = new Executor({
  store: 'memory',
  concurrency: 8,
  queues: ['math'],
  retry: { maxRetries: 3, backoff: 'exponential', delayMs: 100, maxDelayMs: 30_000, jitter: true },
  timeoutMs: 5_000,
  keepResults: { count: 1000, ageMs: 60_000 },
})

ex.register(
  'add',
  async ([x, y]: [number, number], ctx: TaskContext): Promise<number> => {
    ctx.progress(50, 'half way')
    ctx.status('adding')
    ctx.log('adding', 'debug')
    if (ctx.signal.aborted || ctx.shouldStop) throw new NonRetryableError('stopped')
    return x + y
  },
  { queue: 'math', tags: ['math'], description: 'Add two numbers', timeoutMs: 10_000, maxParallel: 5, size: 'small', priority: 1 },
)

ex.on('progress', (e) => {
  const pct: number = e.percent
  void pct
})
ex.on('state', (e) => {
  const s: TaskState = e.state
  void s
})

async function main(): Promise<void> {
  const t = await ex.submit<number>('add', [1, 2], { delayMs: 0, priority: 0, key: 'k1' })
  const id: string = t.id
  const sum: number = await t.result({ timeoutMs: 1000 })
  const state: TaskState = await t.state()
  const info: TaskInfo = await t.info()
  const created: Date = info.createdAt
  const cancelled: boolean = await t.cancel()
  const many = await ex.submitMany<number>('add', [[1, 2], [3, 4]], { runAt: new Date() })
  const first: number = await many[0].result()
  const direct: number = await ex.run<number>('add', [5, 6])
  const again = ex.task(id)
  const defs: TaskDefinitionInfo[] = ex.tasks({ tags: ['math'] })
  const known: boolean = ex.has('add')
  try {
    await again.result()
  } catch (err) {
    if (err instanceof TaskFailedError) console.log(err.errorType, err.errorMessage, err.errorStack, err.retries)
    if (err instanceof TaskCancelledError) console.log(err.taskId)
    if (err instanceof TimeoutError) console.log(err.timeoutMs)
  }
  await ex.onIdle()
  await ex.close({ timeoutMs: 1000 })
  void [sum, state, created, cancelled, first, direct, defs, known]

  // @ts-expect-error concurrency is a number
  new Executor({ concurrency: 'many' })
  // @ts-expect-error backoff is 'fixed' | 'exponential'
  new Executor({ retry: { backoff: 'linear' } })
  // @ts-expect-error a handler is a function
  ex.register('bad', 42)
  // @ts-expect-error a size is a number of slots or 'small' | 'medium' | 'large'
  ex.register('bad', () => null, { size: 'huge' })
  // @ts-expect-error submitMany takes no idempotency key
  await ex.submitMany('add', [[1, 2]], { key: 'x' })
}

async function disposable(): Promise<void> {
  await using scoped = new Executor()
  scoped.register('noop', () => null)
}

void main
void disposable

async function policies(): Promise<void> {
  const ex = new Executor({
    rateLimit: { limit: 1000 },
    queueRateLimits: { email: { limit: 10, intervalMs: 1000, burst: 1 } },
  })
  ex.register('call-api', async (url: string, ctx) => (await fetch(url, { signal: ctx.signal })).status, {
    rateLimit: { limit: 100, intervalMs: 1000, burst: 10 },
    circuitBreaker: {
      failureThreshold: 5,
      failureRate: { threshold: 0.5, windowMs: 10_000, minRequests: 20 },
      resetTimeoutMs: 30_000,
      maxResetTimeoutMs: 300_000,
      halfOpenTrials: 2,
      onOpen: 'wait',
      isFailure: (e) => !(e instanceof TypeError),
    },
  })
  ex.on('breaker', (e) => console.log(e.name, e.from, e.to))
  ex.on('rateLimited', (e) => console.log(e.scope, e.name, e.until.toISOString()))
  const b = ex.breaker('call-api')
  if (b !== undefined) {
    const state: 'closed' | 'open' | 'halfOpen' = b.state
    const next: Date | null = b.nextTryAt
    void [state, next, b.failures]
  }
  try {
    await ex.run('call-api', 'http://127.0.0.1:1/')
  } catch (err) {
    if (err instanceof CircuitOpenError) console.log('refused', err.taskName)
  }
  // @ts-expect-error onOpen is 'wait' | 'fail'
  ex.register('bad', () => 1, { circuitBreaker: { onOpen: 'later' } })
  // @ts-expect-error limit is required
  ex.register('bad2', () => 1, { rateLimit: { intervalMs: 5 } })
}
void policies

// The SQLite store: durable options, introspection, StoreError.
async function durable(): Promise<void> {
  const { StoreError } = await import('taskloom')
  let store: Executor
  try {
    store = new Executor({ store: 'sqlite:./tasks.db', leaseMs: 10_000, pollIntervalMs: 20 })
  } catch (err) {
    if (err instanceof StoreError) console.log(err.code, err.message)
    return
  }
  const page = await store.list({ state: 'PENDING', name: 'add', limit: 50 })
  const first: TaskInfo | undefined = page.tasks[0]
  const next: string | null = page.cursor
  if (next !== null) await store.list({ cursor: next })
  await store.list({ order: 'newest', limit: 5 })
  // @ts-expect-error not an order
  await store.list({ order: 'random' })
  store.register('kept', () => 1, { keepResults: { count: 10, ageMs: 60_000 } })
  const kept: number = store.info('kept')?.keepResults.count ?? 0
  void kept
  const counts = await store.counts()
  const pending: number = counts.total.PENDING + (counts.queues['math']?.RETRY ?? 0)
  void [first, pending]
  // @ts-expect-error not a state
  await store.list({ state: 'DONE' })
  await store.close()
  // The Redis store: a namespace; remote progress arrives through the same events.
  const shared = new Executor({ store: 'redis://127.0.0.1:6380/0', namespace: 'orders', worker: false, leaseMs: 5_000, offlineSubmits: 'queue' })
  // @ts-expect-error not a mode
  new Executor({ store: 'redis://127.0.0.1:6380', offlineSubmits: 'wait' })
  shared.on('progress', (e) => console.log(e.id, e.name, e.percent))
  // @ts-expect-error a namespace is a string
  new Executor({ store: 'redis://127.0.0.1:6380', namespace: 7 })
  await shared.close()
}
void durable

// Workflows and schedules.
import { sig, chain, group, chord, WorkflowHandle, type WorkflowMember, type ScheduleInfo } from 'taskloom'

async function workflows(ex: Executor): Promise<void> {
  const h = await ex.submit<number>(chain(sig('add', [1, 2]), sig('multiply', [3])))
  const nine: number = await h.result()
  const members: WorkflowMember[] = await h.members()
  const firstState: TaskState = members[0].state
  const memberId: string | null = members[0].id
  const g = await ex.submit<number[]>(group([sig('add', [1, 2]), sig('add', [3, 4])]), { priority: 5 })
  const list: number[] = await g.result()
  const c = await ex.submit(chord([chain(sig('fetch', ['u']), sig('process')), sig('add', [1, 2], { priority: 1 })], sig('sum')))
  const again: WorkflowHandle = ex.workflow(c.id)
  const plain = await ex.submit(sig('add', [1, 2]))
  // @ts-expect-error a lone signature is a plain task: no members()
  await plain.members()
  // @ts-expect-error members get their keys from the workflow
  sig('add', [1], { key: 'k' })
  // @ts-expect-error a chord's header is a list
  chord(sig('add'), sig('sum'))
  ex.register('see', (args: number[], ctx: TaskContext) => ctx.previous)
  const s: ScheduleInfo = await ex.schedule('add', '*/5 * * * * *', [1, 2], { id: 'adder', tz: 'Europe/Berlin', missed: 'skip' })
  const next: Date | null = s.nextRunAt
  await ex.pauseSchedule(s.id)
  await ex.resumeSchedule(s.id)
  const all: ScheduleInfo[] = await ex.schedules()
  const removed: boolean = await ex.removeSchedule('adder')
  // @ts-expect-error not a missed-ticks policy
  await ex.schedule('add', '* * * * *', null, { missed: 'all' })
  ex.on('error', (e: Error) => console.log(e.message))
  void [nine, firstState, memberId, list, again, next, all, removed]
}
void workflows

// Metrics
{
  const ex = new Executor()
  const m: MetricsSnapshot = await ex.metrics()
  const t: TaskMetrics | undefined = m.tasks['add']
  const p50: number | null | undefined = t?.runSeconds.p50
  const depth: number | undefined = m.queues['default']?.depth.PENDING
  const text: string = await ex.metricsText()
  void [p50, depth, text]
  await ex.close()
}

// Shared registry and queues
{
  const { DefinitionConflictError } = await import('taskloom')
  const producer = new Executor({ store: 'sqlite:/tmp/taskloom-types.db', worker: false })
  const h = await producer.submit('resize', { file: 'a.png' }, { queue: 'io' })
  const def = producer.info('resize')
  const seen: Date | undefined = def?.workers?.[0]?.lastSeenAt
  const field: string | undefined = def?.conflicts?.[0]?.field
  const slots: number | undefined = def?.size
  const q: QueueInfo[] = await producer.queues({ internal: true })
  const paused: boolean = q[0]?.paused ?? false
  const changed: boolean = await producer.pauseQueue('io')
  await producer.resumeQueue('io')
  producer.on('error', (e: Error) => { if (e instanceof DefinitionConflictError) console.log(e.code) })
  // @ts-expect-error queue names are strings
  await producer.pauseQueue(3)
  void [h, seen, field, paused, changed]
  await producer.close()
}

// prom-client bridge (structural: prom-client is not a dependency)
{
  const ex = new Executor()
  const list: PrometheusCollector[] = ex.registerPrometheus({ registerMetric: (_m: unknown) => {} })
  const first = await ex.prometheusCollectors()[0]?.get()
  void [list, first?.values[0]?.labels]
  await ex.close()
}

// Task actions
{
  const { TaskStateError } = await import('taskloom')
  const ex = new Executor()
  const again: TaskHandle<number> = await ex.retry<number>('01890a5d-ac96-774b-bcce-b302099a8057')
  const removed: true = await ex.remove(again.id)
  const n: number = await ex.clean({ state: ['FAILURE', 'REVOKED'], olderThanMs: 60_000, queue: 'io', limit: 100 })
  const drained: number = await ex.drain('io')
  // @ts-expect-error only final states can be cleaned
  await ex.clean({ state: 'PENDING' })
  try { await ex.remove('x') } catch (e) { if (e instanceof TaskStateError) console.log(e.code) }
  void [removed, n, drained]
  await ex.close()
}

// Events
{
  const ex = new Executor()
  ex.on('completed', (e) => { const r: JsonValue = e.result; const d: number = e.durationMs; void [r, d, e.queue] })
  ex.on('failed', (e) => { const again: boolean = e.willRetry; const m: string = e.error.message; void [again, m] })
  ex.on('state', (e) => { const q: string = e.queue; void q })
  await ex.close()
}

// Params, services, artifacts
{
  const { ParamsError } = await import('taskloom')
  const ex = new Executor({ services: { db: { query: (sql: string) => sql } } })
  ex.register('add', async (p: { a: number; b: number }, ctx) => {
    const id: string = await ctx.saveArtifact({ partial: p.a }, { tags: ['step'] })
    void [id, ctx.services.db]
    return p.a + p.b
  }, { params: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'] } })
  ex.register('greet', (p: { name?: string }) => `hi ${p.name}`, { params: { name: 'string?' } })
  const info = ex.info('add')
  const annotation: string | undefined = info?.parameters[0]?.annotation
  const signature: string | undefined = info?.signature
  try { await ex.submit('add', { a: 'x' }) } catch (e) { if (e instanceof ParamsError) { const p: string | undefined = e.issues[0]?.path; void p } }
  const h = await ex.submit('add', { a: 1, b: 2 })
  const arts: ArtifactInfo[] = await ex.artifacts(h.id)
  const one: ArtifactInfo | undefined = await ex.artifact(`${h.id}.1`)
  // @ts-expect-error params must be a schema or the shorthand
  ex.register('bad', () => 1, { params: 3 })
  void [annotation, signature, arts, one]
  await ex.close()
}

// HTTP API
{
  const { createHandler, serve } = await import('taskloom/http')
  const http = await import('node:http')
  const ex = new Executor()
  const server = http.createServer(createHandler(ex, { token: 'secret-token', bodyLimit: 65536 }))
  const s: HttpServer = await serve(ex, { port: 0, cors: { origin: ['https://app.example'] } })
  const url: string = s.url
  await s.close()
  // @ts-expect-error a port is a number
  await serve(ex, { port: '8000' })
  void [server, url]
  await ex.close()
}

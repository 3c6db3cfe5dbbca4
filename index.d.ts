/**
 * taskloom — a task execution engine for Node.js with a Rust core.
 *
 * Register plain functions as task handlers, submit tasks, and let the engine queue,
 * order, retry, time out and cancel them.
 *
 * @packageDocumentation
 */

import { EventEmitter } from 'node:events'

/** Any value JSON can carry. Payloads and results are JSON values. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/**
 * The lifecycle of a task (Celery's names):
 * `PENDING → RECEIVED → STARTED → SUCCESS | FAILURE | RETRY → … | REVOKED`.
 * SUCCESS, FAILURE and REVOKED are final. With the SQLite store, RECEIVED means a
 * worker has claimed the task (it holds its lease) and is about to start it.
 */
export type TaskState = 'PENDING' | 'RECEIVED' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'RETRY' | 'REVOKED'

/** Retry policy: as an executor default (`new Executor({ retry })`) and per task; unset fields inherit. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 0 (never retry). */
  maxRetries?: number
  /** `'fixed'`: every retry waits `delayMs`; `'exponential'` (default): retry n waits `delayMs * 2^(n-1)`. */
  backoff?: 'fixed' | 'exponential'
  /** Base delay before a retry, in ms. Default 1000. */
  delayMs?: number
  /** Upper bound of a retry's delay, in ms. Default 3,600,000 (one hour). */
  maxDelayMs?: number
  /** Spread each delay uniformly over [delay/2, delay] so failures do not retry in lockstep. Default false. */
  jitter?: boolean
}

/**
 * A rate limit: at most `limit` task starts per `intervalMs`, at most `burst` of them back
 * to back (GCRA). Tasks over the limit wait in line — never dropped, their attempt
 * untouched — until a start is free.
 */
export interface RateLimitOptions {
  /** Starts per interval; a whole number ≥ 1. */
  limit: number
  /** The interval in ms. Default 1000. */
  intervalMs?: number
  /**
   * Starts allowed back to back (banked while idle). Default: 50 ms worth of starts, at
   * least 1 (`limit: 5` per second → 1); `burst: limit` lets a whole interval's start at once.
   */
  burst?: number
}

/**
 * A circuit breaker for one task name. It opens after `failureThreshold` failures in a
 * row (default 5) and/or when the `failureRate` over a window is too high; stays open
 * `resetTimeoutMs`; then half-opens and lets `halfOpenTrials` trial runs through: if all
 * succeed it closes, if one fails it opens again (for longer, up to `maxResetTimeoutMs`).
 */
export interface CircuitBreakerOptions {
  /** Open after this many failures in a row. Default 5 (when `failureRate` is not given). */
  failureThreshold?: number
  /** Open when the failure rate over a window exceeds `threshold`. */
  failureRate?: {
    /** A rate above 0 and at most 1, e.g. 0.5. */
    threshold: number
    /** The window, in whole seconds expressed in ms (1000, 2000, …). */
    windowMs: number
    /** No decision before this many runs in the window. Default 10. */
    minRequests?: number
  }
  /** How long the breaker stays open, in ms. Default 30,000. */
  resetTimeoutMs?: number
  /** Double the open time on each re-open, up to this many ms. Default: no growth. */
  maxResetTimeoutMs?: number
  /** Trial runs let through while half-open; all must succeed to close. Default 1. */
  halfOpenTrials?: number
  /** While open: `'wait'` (default) holds tasks until half-open; `'fail'` fails them at once with `CircuitOpenError`. */
  onOpen?: 'wait' | 'fail'
  /**
   * Which errors count as failures. Default: every error, timeouts included.
   * Cancelled runs never count.
   */
  isFailure?: (error: unknown) => boolean
}

/** The state of a task's circuit breaker, from `ex.breaker(name)`. */
export interface BreakerInfo {
  state: 'closed' | 'open' | 'halfOpen'
  /** Failures counted since it last closed. */
  failures: number
  /** Successful runs seen. */
  successes: number
  /** Runs refused while open (`onOpen: 'fail'`). */
  rejected: number
  /** When it last opened (null while closed). */
  openedAt: Date | null
  /**
   * When it turns half-open (null unless open). It does so at this time whether or not
   * a task of its name is waiting; the `'breaker'` event announces it then.
   */
  nextTryAt: Date | null
}

/** Retention of finished tasks (their results, errors and logs). */
export interface KeepResultsOptions {
  /** Keep at most this many finished tasks; the oldest are forgotten first. Default 100,000. */
  count?: number
  /** Forget finished tasks older than this many ms. Default: no age limit. */
  ageMs?: number
}

/** Options of `ex.list()`. */
export interface ListOptions {
  state?: TaskState
  name?: string
  queue?: string
  /** Tasks per page, 1–1000. Default 100. */
  limit?: number
  /** The `cursor` of the previous page (listed in the same order). */
  cursor?: string
  /** `'oldest'` first (default) or `'newest'` first. */
  order?: 'oldest' | 'newest'
}

/** A page of `ex.list()`. */
export interface TaskPage {
  tasks: TaskInfo[]
  /** Pass it back for the next page; null on the last page. */
  cursor: string | null
}

/** Tasks per state. */
export type StateCounts = Record<TaskState, number>

/** `ex.counts()`: tasks per state in total and per queue. */
export interface TaskCounts {
  total: StateCounts
  queues: Record<string, StateCounts>
}

/**
 * A histogram over fixed buckets (upper bounds in seconds; the last bucket, +Inf, is
 * implied): observations per bucket (not cumulative), their count and sum, and the
 * p50/p95/p99 interpolated within buckets as Prometheus's `histogram_quantile` does
 * (null without observations).
 */
export interface HistogramSnapshot {
  buckets: number[]
  /** One more entry than `buckets`: the last is the +Inf bucket. */
  counts: number[]
  count: number
  sum: number
  p50: number | null
  p95: number | null
  p99: number | null
}

/** What this process counted for one task name (`ex.metrics().tasks[name]`). */
export interface TaskMetrics {
  queue: string
  /** Runs that ended SUCCESS. */
  completed: number
  /** Tasks that ended FAILURE: their last attempt failed, or an open breaker refused them. */
  failed: number
  /** Failed runs scheduled to run again. */
  retried: number
  /** Tasks that ended REVOKED. */
  cancelled: number
  /** Runs that exceeded `timeoutMs` (each also counts as failed or retried). */
  timedOut: number
  /** Times a ready task was held back by a rate limit (its own, its queue's, the executor's). */
  rateLimited: number
  /** Circuit breaker state changes. */
  breakerTransitions: number
  /** The breaker's state now; null without a breaker. */
  breaker: 'closed' | 'open' | 'halfOpen' | null
  /** Handlers running in this process now. */
  running: number
  /** Ready (due) → started, per run. */
  waitSeconds: HistogramSnapshot
  /** Started → finished, per run. */
  runSeconds: HistogramSnapshot
}

/** One queue in `ex.metrics()`: this process's counters summed, and the store's depth. */
export interface QueueMetrics {
  /** Tasks per state in the store (with a durable store: every process's). */
  depth: StateCounts
  completed: number
  failed: number
  retried: number
  cancelled: number
  timedOut: number
  running: number
}

/**
 * `ex.metrics()`. Counters, histograms and `running` are this process's (since it
 * started); `depth` and `total` come from the store (with SQLite or Redis: the whole
 * store, every process). The internal workflow coordinator is left out.
 */
export interface MetricsSnapshot {
  tasks: Record<string, TaskMetrics>
  queues: Record<string, QueueMetrics>
  total: StateCounts
}

export interface ExecutorOptions {
  /**
   * Objects handlers need (a database pool, a client…), handed to every run as
   * `ctx.services` — also to tasks run over the HTTP API. Kept in this process only.
   */
  services?: Record<string, unknown>
  /**
   * Where tasks are kept. Default: `process.env.TASKLOOM_STORE ?? 'memory'`.
   * - `'memory'`: in this process; queued tasks are lost when it ends.
   * - `'sqlite:<path>'`: a SQLite file (created if missing), durable: a submit resolves
   *   once committed, nothing is lost when a process is killed, and several processes
   *   may share the file. A path that is not a taskloom database, a corrupt file or one
   *   from a newer taskloom is refused with a `StoreError`, and left untouched.
   * - `'redis://[user:password@]host:port[/db]'` or `'rediss://…'` (TLS, verified against
   *   the public CA roots; `'rediss://…/#insecure'` accepts any certificate): a Redis server
   *   shared by many worker processes on many machines. A submit resolves once Redis has
   *   it; `result()`, `cancel()` and progress, status and log events work across
   *   processes; `maxParallel` and task rate limits hold across every process sharing the
   *   namespace. A Redis that cannot be reached at construction throws a `StoreError`;
   *   later outages are ridden out (reconnecting with backoff), and a submit made during
   *   one rejects with a `StoreError`.
   */
  store?: string
  /**
   * Redis store: the namespace all keys live under, as `{namespace}:…` (a Redis Cluster
   * hash tag, so every key of a namespace is in one slot). Executors share tasks only
   * within a namespace. Default `'taskloom'`. No braces or spaces.
   */
  namespace?: string
  /**
   * Redis store: what a submit does while Redis is unreachable. `'reject'` (default): it
   * rejects at once with a `StoreError`. `'queue'`: it waits in this process's memory and
   * is sent once Redis is back, then resolves (lost if this process dies meanwhile).
   */
  offlineSubmits?: 'reject' | 'queue'
  /**
   * Durable stores (SQLite, Redis): how long a claimed task stays leased to its worker
   * without a renewal (the worker renews while it lives). A task whose worker died runs
   * again once its lease has expired, its attempt counted. Default 30,000 ms.
   */
  leaseMs?: number
  /**
   * Durable stores: how long tasks this process claimed may wait for its JS thread to
   * take them (a handler that blocks the thread synchronously, say) before they go back
   * to the store for other workers. A task whose handler has started keeps its lease
   * however long it blocks (the lease is renewed by a background thread). Default 1,000 ms.
   */
  claimHoldMs?: number
  /**
   * Whether the engine counts runs for `metrics()` / `metricsText()` (outcomes,
   * rate-limited holds, breaker transitions, wait and run histograms). Default true; the
   * cost is a few integer bumps per run (`npm run bench` measures it).
   */
  metrics?: boolean
  /**
   * SQLite store: how often to look for tasks submitted by other processes (tasks
   * submitted here are picked up at once). Default 50 ms. The Redis store needs no
   * polling: workers are notified of new tasks.
   */
  pollIntervalMs?: number
  /** Handlers running at once in this process. Default 64. */
  concurrency?: number
  /** Queues this executor works. Default: every queue that has a registered task. */
  queues?: string[]
  /**
   * `false` makes a producer-only executor: it submits and queries, and runs nothing.
   * Default true. Refused with the memory store (nothing could ever run its tasks).
   */
  worker?: boolean
  /** Default retry policy for every task; a task's own `retry` overrides it field by field. */
  retry?: RetryOptions
  /** Default timeout for every task's handler, in ms. Default: none. */
  timeoutMs?: number
  /** How many finished tasks stay queryable, and for how long. */
  keepResults?: KeepResultsOptions
  /** A limit on task starts across this executor (every queue and task). */
  rateLimit?: RateLimitOptions
  /** Limits on task starts per queue, by queue name. */
  queueRateLimits?: Record<string, RateLimitOptions>
}

/** A task's size by name: `'small'` 1 slot, `'medium'` 2, `'large'` 4. */
export type TaskSize = 'small' | 'medium' | 'large'

/** Options of `ex.register(name, handler, options)`. */
export interface TaskOptions {
  /** The queue the task's runs go through. URL-safe. Default `'default'`. */
  queue?: string
  /** Tags for `ex.tasks({ tags })`. */
  tags?: string[]
  description?: string
  /**
   * The payload's JSON Schema (draft 2020-12; formats are checked), or the shorthand
   * `{ url: 'string', width: 'number?' }`: an object with those properties (`?` marks an
   * optional one; types string, number, integer, boolean, object, array, null, any) and
   * no others. Every payload is checked at `submit`, `submitMany`, `run`, `schedule` and
   * over HTTP; one that does not match rejects with a `ParamsError` and nothing is
   * enqueued. A schema that is not valid throws at `register`.
   */
  params?: JsonSchema | Record<string, string>
  /** Retry policy; unset fields inherit the executor's. */
  retry?: RetryOptions
  /** Abort the handler's `ctx.signal` and fail the attempt (as a `TaskTimeoutError`) after this many ms. */
  timeoutMs?: number
  /** At most this many runs of this task at once in this executor. */
  maxParallel?: number
  /**
   * How many of the executor's `concurrency` slots one run takes: a whole number, or
   * `'small' | 'medium' | 'large'` (1, 2, 4 slots). Default 1. Under `concurrency: 4`, one
   * `'large'` run fills the executor, or four `'small'` ones. A size above the
   * executor's `concurrency` is refused here (the task could never start). A task too
   * big for the slots left waits first in line: smaller tasks behind it do not overtake
   * it, so it is never starved. Workflow coordinators take no slot whatever their size.
   */
  size?: number | TaskSize
  /** Default priority of the task's submits. Larger runs first. Default 0. */
  priority?: number
  /** A limit on this task's starts. */
  rateLimit?: RateLimitOptions
  /** A circuit breaker for this task. */
  circuitBreaker?: CircuitBreakerOptions
  /**
   * This task's own retention of finished tasks; the fields it sets override the
   * executor's `keepResults` (kept apart: this task's finished tasks do not count
   * toward the executor's `count`).
   */
  keepResults?: KeepResultsOptions
}

/** Options of `ex.submit` / `ex.submitMany`. */
export interface SubmitOptions {
  /** Run no earlier than this many ms from now. */
  delayMs?: number
  /** Run no earlier than this time: a Date, an ISO 8601 string or ms since the epoch. */
  runAt?: Date | string | number
  /**
   * Larger runs first; equal priorities run in submit order (FIFO). A whole number in
   * the 32-bit signed range. Default: the task's `priority`, else 0.
   */
  priority?: number
  /** Idempotency key: submitting again with the same key returns the first task. `submit` only. */
  key?: string
  /**
   * The queue the task goes to. A task's definition decides its queue: given here, it
   * must be the definition's (else a TypeError, and nothing is stored). It chooses only
   * for a producer on a durable store submitting a name no worker has published yet
   * (default `'default'`).
   */
  queue?: string
  /**
   * Tracing: the W3C `traceparent` (`00-<trace id>-<span id>-<flags>`) whose span becomes
   * the parent of the run's span. Default: the span active at submit, when
   * `@opentelemetry/api` is installed and a tracer provider is registered.
   */
  traceparent?: string
}

/** Options of `handle.result()`. */
export interface ResultOptions {
  /** Reject with `TimeoutError` if the task has not finished after this many ms. */
  timeoutMs?: number
}

/** Options of `ex.close()`. */
export interface CloseOptions {
  /** How long running handlers may take to finish before they are aborted. Default 10,000 ms. */
  timeoutMs?: number
}

/** The error a failed attempt left: the thrown value's type, message and stack. */
export interface TaskErrorInfo {
  /** The error's `name` (e.g. `'TypeError'`), or `typeof` / the constructor name of a thrown non-Error. */
  type: string
  message: string
  stack: string | null
  /** Present and true when the attempt exceeded its `timeoutMs`. */
  timeout?: boolean
  /** Present and true when the handler threw a `NonRetryableError`. */
  nonRetryable?: boolean
  /** Present and true when the task's breaker did not count this error (`isFailure`). */
  ignoredByBreaker?: boolean
}

export interface TaskLogEntry {
  time: Date
  level: 'debug' | 'info' | 'warning' | 'error'
  message: string
}

/** Everything known about one task, from `handle.info()`. */
export interface TaskInfo<Payload = JsonValue, Result = JsonValue> {
  id: string
  name: string
  queue: string
  state: TaskState
  payload: Payload
  /** The handler's return value once SUCCESS, else null. */
  result: Result | null
  /** The last failed attempt's error (also while waiting to retry), else null. */
  error: TaskErrorInfo | null
  /** Attempts started so far. */
  attempt: number
  /** Retries so far (failed attempts that were retried). */
  retries: number
  priority: number
  /** Last `ctx.progress` percent (0–100), else null. */
  progress: number | null
  progressMessage: string | null
  /**
   * Last `ctx.status` message, else null. While a ready task is held back by a policy,
   * says so: `'waiting: rate limit of task …'`, `'waiting: circuit breaker of task … is open …'`.
   */
  status: string | null
  /** What the handler logged with `ctx.log` (the last 1,000 lines). */
  logs: TaskLogEntry[]
  /** The idempotency key it was submitted with, else null. */
  key: string | null
  createdAt: Date
  /** When a delayed task (or a retry) becomes due, else null. */
  runAt: Date | null
  startedAt: Date | null
  completedAt: Date | null
  /** The executor that ran it (`ex.workerId`), else null. */
  workerId: string | null
  /** The state and failure count of the task's circuit breaker, if it has one. */
  breaker: { state: BreakerInfo['state']; failures: number } | null
}

/** A JSON Schema (draft 2020-12) document. */
export type JsonSchema = { [keyword: string]: JsonValue } | boolean

/** One parameter of a task, from its params schema (chapkit's TaskInfo parameter). */
export interface ParameterInfo {
  name: string
  /** The schema's type: `'string'`, `'integer | null'`, `'enum'` or `'any'`. */
  annotation: string
  /** The schema's `default`, as the value it is (null when it has none). */
  default: JsonValue
  required: boolean
  description?: string
}

/** An artifact a task saved with `ctx.saveArtifact`. */
export interface ArtifactInfo<Data = JsonValue> {
  /** `<task id>.<n>`, n counting from 1. */
  id: string
  taskId: string
  createdAt: Date
  tags: string[]
  data: Data
}

/** A registered task as `ex.tasks()` and `ex.info(name)` describe it. */
export interface TaskDefinitionInfo {
  name: string
  queue: string
  tags: string[]
  description: string | null
  /** The JSON Schema of the payload (the shorthand expanded), or null. */
  params: JsonSchema | null
  /** The schema's top-level properties: the parameters the HTTP API lists. */
  parameters: ParameterInfo[]
  /** The parameters for people: `(a: integer, b: integer, name?: string = "World")`. */
  signature: string
  /** The timeout that applies (the task's own, else the executor's), or null. */
  timeoutMs: number | null
  maxParallel: number | null
  /** Slots of `concurrency` one run takes (a size name resolved to its number). */
  size: number
  priority: number
  /** The resolved retry policy. */
  retry: Required<RetryOptions>
  rateLimit: Required<RateLimitOptions> | null
  circuitBreaker: {
    failureThreshold: number | null
    failureRate: { threshold: number; windowMs: number; minRequests: number } | null
    resetTimeoutMs: number
    maxResetTimeoutMs: number | null
    halfOpenTrials: number
    onOpen: 'wait' | 'fail'
  } | null
  /** The retention that applies to its finished tasks (its own, else the executor's). */
  keepResults: { count: number; ageMs: number | null }
  /**
   * Durable stores only: the workers that published this definition to the store's
   * shared registry. `alive`: its lease is current; `lastSeenAt`: its last heartbeat.
   */
  workers?: { id: string; pid: number; alive: boolean; lastSeenAt: Date }[]
  /**
   * Durable stores only: where live workers' definitions of this task differ (empty
   * when they agree): the field (`queue`, `priority`, `timeoutMs`, `maxParallel`,
   * `retry`, `rateLimit`, `circuitBreaker`) and each worker's value.
   */
  conflicts?: { field: string; values: { worker: string; value: JsonValue }[] }[]
}

/** A metric family in prom-client's shape (what its `Registry.registerMetric` takes). */
export interface PrometheusCollector {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly aggregator: 'sum'
  get(): Promise<{
    name: string
    help: string
    type: 'counter' | 'gauge' | 'histogram'
    aggregator: 'sum'
    values: { value: number; labels: Record<string, string>; metricName?: string }[]
  }>
  /** A registry reset leaves the engine's counts as they are. */
  reset(): void
}

/** Which finished tasks `ex.clean()` deletes (every field narrows it). */
export interface CleanFilter {
  /** A final state, or several; default all three. */
  state?: 'SUCCESS' | 'FAILURE' | 'REVOKED' | ('SUCCESS' | 'FAILURE' | 'REVOKED')[]
  /** Finished at least this many ms ago; default 0 (any). */
  olderThanMs?: number
  name?: string
  queue?: string
  /** Delete at most this many (at least 1); default all that match. */
  limit?: number
}

/** A queue as `ex.queues()` lists it. */
export interface QueueInfo {
  name: string
  /** Paused with `pauseQueue` (in any process sharing the store). */
  paused: boolean
  /** Its tasks per state (of the whole store). */
  counts: StateCounts
}

/** The task control a handler receives as its second argument. */
export interface TaskContext {
  readonly id: string
  readonly name: string
  readonly queue: string
  /** 1 on the first attempt, 2 on the first retry, … */
  readonly attempt: number
  /** Aborted on cancel (reason `TaskCancelledError`), timeout (`TaskTimeoutError`) or close (`ExecutorClosedError`). */
  readonly signal: AbortSignal
  /** True once the handler should stop (the signal has aborted). */
  readonly shouldStop: boolean
  /**
   * In a workflow: the result of the member before this one (a chain's previous step, or
   * the list of a chord header's results). It is also the first value of the payload.
   * Undefined for a first member and for tasks outside workflows.
   */
  readonly previous: JsonValue | undefined
  /** Appends a line to the task's logs and emits a `log` event. Level defaults to `'info'`. */
  log(message: string, level?: 'debug' | 'info' | 'warning' | 'warn' | 'error'): void
  /** Records progress (0–100) and emits a `progress` event. */
  progress(percent: number, message?: string): void
  /** Records a status message and emits a `status` event. */
  status(message: string): void
  /** The executor's `services` option (`new Executor({ services: { db } })`), frozen. */
  readonly services: Readonly<Record<string, any>>
  /**
   * Saves `data` (a JSON value) as an artifact of this task, in its store: an
   * intermediate result that outlives the run, listed by `ex.artifacts(id)` and over
   * HTTP, deleted with the task. Resolves to its id (`<task id>.<n>`). Not in `ex.run()`,
   * which stores no task.
   */
  saveArtifact(data: JsonValue, options?: { tags?: string[] }): Promise<string>
}

/** A task handler: a plain function of the payload and the task control. */
export type TaskHandler<Payload = any, Result = unknown> = (payload: Payload, ctx: TaskContext) => Result | Promise<Result>

/** A handle on one submitted task. */
export declare class TaskHandle<Result = any> {
  protected constructor()
  /** The task's id (a UUID v7, time ordered). */
  readonly id: string
  /**
   * Resolves with the task's return value once it succeeds. Rejects with
   * `TaskFailedError` (FAILURE), `TaskCancelledError` (REVOKED), `TimeoutError`
   * (`timeoutMs` elapsed) or `ExecutorClosedError`.
   */
  result(options?: ResultOptions): Promise<Result>
  state(): Promise<TaskState>
  info(): Promise<TaskInfo<JsonValue, Result>>
  /**
   * Cancels the task. A pending, delayed or retry-waiting task becomes REVOKED at once
   * and never runs; a running task's `ctx.signal` aborts and it becomes REVOKED when its
   * handler returns. Resolves true, or false if the task had already finished.
   */
  cancel(): Promise<boolean>
  toJSON(): { id: string }
}

/** A signature: one task with its payload and submit options, as a workflow member. */
export interface Signature {
  readonly sig: string
  readonly payload?: unknown
  readonly options?: Omit<SubmitOptions, 'key'>
}
/** Runs its steps one after another; each gets the previous result prepended to its arguments. */
export interface Chain {
  readonly chain: readonly Workflow[]
}
/** Runs its members at once; its result lists theirs, in order. */
export interface Group {
  readonly group: readonly Workflow[]
}
/** Runs the header as a group, then the callback with the list of the header's results. */
export interface Chord {
  readonly chord: readonly Workflow[]
  readonly body: Workflow
}
/** Anything `ex.submit` runs as a workflow. */
export type Workflow = Signature | Chain | Group | Chord

/**
 * A signature: task `name` with `payload` and submit options (`priority`, `delayMs`,
 * `runAt`; not `key` — the workflow keys its members). In a chain, an array payload is
 * the argument list and the previous result is prepended to it; a missing payload is
 * an empty list; any other payload is a list of one.
 */
export declare function sig(name: string, payload?: unknown, options?: Omit<SubmitOptions, 'key'>): Signature
/** Sequential: `chain(sig('add', [1, 2]), sig('multiply', [3]))` → 9. Varargs or one array. */
export declare function chain(...steps: Workflow[] | [Workflow[]]): Chain
/** Parallel: `group(sig('add', [1, 2]), sig('add', [3, 4]))` → [3, 7]. Varargs or one array. */
export declare function group(...members: Workflow[] | [Workflow[]]): Group
/** Parallel, then a callback: `chord([sig('add', [1, 2]), sig('add', [3, 4])], sig('sum'))` → sum([[3, 7]]). */
export declare function chord(header: Workflow[], body: Workflow): Chord

/** A workflow member as `WorkflowHandle.members()` reports it. */
export interface WorkflowMember {
  /** Its number: members in depth-first order, from 0. */
  member: number
  name: string
  /** Where it sits, e.g. `'chord header member 2 › chain step 1'`. */
  path: string
  /** Its task id; null while (or if) it was never started. */
  id: string | null
  /** Its task's state; a member never started is PENDING, or REVOKED once the workflow is decided. */
  state: TaskState
}

/**
 * A handle on a workflow. A workflow is a task of its own (its coordinator, named
 * `'taskloom-workflow'`): `result()` is the workflow's result, `cancel()` cancels every
 * member that has not finished, and a failed member fails it with `TaskFailedError`
 * whose `errorType` is `'WorkflowError'` and whose message names the member.
 */
export declare class WorkflowHandle<Result = any> extends TaskHandle<Result> {
  /** Each member in order, with its task id and state. */
  members(): Promise<WorkflowMember[]>
}

/** Options of `ex.schedule`. */
export interface ScheduleOptions {
  /**
   * The schedule's id. Default: derived from the task name, the expression and the time
   * zone, so that declaring the same schedule again (say, on every start) updates it
   * instead of adding another.
   */
  id?: string
  /** IANA time zone the expression is read in, e.g. `'Europe/Berlin'`. Default UTC. */
  tz?: string
  /**
   * Ticks that passed while no executor ran the schedule (downtime): `'runOnce'`
   * (default) runs one task for them when an executor starts; `'skip'` runs none (a
   * tick more than 2 s late counts as missed).
   */
  missed?: 'runOnce' | 'skip'
}

/** A cron schedule as stored. */
export interface ScheduleInfo {
  id: string
  /** The task it submits. */
  name: string
  cron: string
  tz: string | null
  payload: JsonValue
  missed: 'runOnce' | 'skip'
  paused: boolean
  /** Its next tick; null while paused. */
  nextRunAt: Date | null
  createdAt: Date
}

export interface ProgressEvent {
  id: string
  name: string
  percent: number
  message: string | undefined
}
export interface StatusEvent {
  id: string
  name: string
  status: string
}
export interface LogEvent {
  id: string
  name: string
  level: 'debug' | 'info' | 'warning' | 'error'
  message: string
  time: Date
}
export interface StateEvent {
  id: string
  name: string
  queue: string
  state: TaskState
}
/** A task ended SUCCESS (in this process, or — on a durable store — in another). */
export interface CompletedEvent {
  id: string
  name: string
  queue: string
  /** The handler's return value. */
  result: JsonValue
  /** How long the run took. */
  durationMs: number
  /** The attempt that succeeded (1 = the first). */
  attempt: number
}
/** A run failed: the task retries (`willRetry`) or ended FAILURE. */
export interface FailedEvent {
  id: string
  name: string
  queue: string
  error: { type: string; message: string; stack: string | null }
  attempt: number
  willRetry: boolean
  /** How long the run took; null when the task failed without running (an open breaker). */
  durationMs: number | null
}

export interface BreakerEvent {
  /** The task name. */
  name: string
  from: BreakerInfo['state']
  to: BreakerInfo['state']
}
export interface RateLimitedEvent {
  /** Which limit: a task's, a queue's or the executor's. */
  scope: 'task' | 'queue' | 'executor'
  /** The task or queue name; null for the executor. */
  name: string | null
  /** When the next start is free. */
  until: Date
}

/**
 * Task events (`state`, `completed`, `failed`, `progress`, `status`, `log`) reach
 * listeners in this process and, on a durable store, in every process sharing it: while
 * a process listens, every writer appends its tasks' events to the store's event log,
 * which the listener reads from a cursor (each event once, in order per writer process).
 * They are only collected while someone listens. A listener that falls more than about a
 * minute (SQLite) or 10,000 batches (Redis) behind misses the oldest; events from a
 * moment the store was unreachable are dropped: at-most-once. Listening does not keep
 * Node running.
 */
export interface ExecutorEvents {
  /** A task reported progress (here, or in another process sharing the store). */
  progress: [ProgressEvent]
  /** A task set its status (here, or in another process sharing the store). */
  status: [StatusEvent]
  /** A task logged a line (here, or in another process sharing the store). */
  log: [LogEvent]
  /**
   * A task changed state: PENDING (where submitted), RECEIVED, STARTED, RETRY, and its
   * final state, wherever it runs.
   */
  state: [StateEvent]
  /** A task ended SUCCESS, with its result, wherever it ran. */
  completed: [CompletedEvent]
  /** A run failed, with its error and whether the task will retry, wherever it ran. */
  failed: [FailedEvent]
  /** A task's circuit breaker changed state. */
  breaker: [BreakerEvent]
  /** A rate limit started holding tasks back. */
  rateLimited: [RateLimitedEvent]
  /**
   * Something failed in the background, reported once per episode, not once per retry:
   * the store's writes began failing (a `StoreError` naming the cause: `SQLITE_FULL`,
   * `SQLITE_CORRUPT`, Redis unreachable or refusing a command) while the store backs off
   * and keeps trying, or a schedule tick could not be submitted. Without a listener it
   * is a process warning (`TaskloomStoreWarning`), never an uncaught exception.
   */
  error: [Error]
}

/** Runs registered task handlers; submits and queries tasks. */
export declare class Executor extends EventEmitter<ExecutorEvents> {
  /** @throws TypeError for bad options (named in the message). */
  constructor(options?: ExecutorOptions)
  /** The `services` option, frozen: what handlers get as `ctx.services`. */
  readonly services: Readonly<Record<string, any>>
  /** Which store this executor uses. */
  readonly storeKind: 'memory' | 'sqlite' | 'redis'
  /** This executor's id, recorded as `workerId` on the tasks it runs. */
  readonly workerId: string
  /** Handlers running right now in this executor. */
  readonly running: number

  /**
   * Registers a handler under a URL-safe unique name (`^[A-Za-z0-9_-]+$`).
   * @throws TypeError for a bad name or options; Error (`code: 'ERR_DUPLICATE_TASK'`) for a taken name.
   */
  register<Payload = any, Result = unknown>(name: string, handler: TaskHandler<Payload, Result>, options?: TaskOptions): this
  /**
   * Task definitions carrying every tag in `tags` (all must match): those registered here
   * and, on a durable store, those other workers published to the store's shared registry
   * (with `workers` and `conflicts`). The workflow coordinator (`taskloom-workflow`) is
   * internal: listed only with `internal: true`.
   * @throws StoreError when the store cannot be read.
   */
  tasks(filter?: { tags?: string[]; internal?: boolean }): TaskDefinitionInfo[]
  /** Whether a handler for task `name` is registered in this executor. */
  has(name: string): boolean
  /**
   * The definition of `name`: registered here or, on a durable store, published by a
   * worker (with `workers` and `conflicts`); undefined when neither.
   */
  info(name: string): TaskDefinitionInfo | undefined
  /**
   * The circuit breaker of task `name`, or undefined when it has none.
   * @throws TypeError for an unknown task.
   */
  breaker(name: string): BreakerInfo | undefined

  /**
   * Enqueues one task. On a durable store, a name with no handler here is submitted by
   * name (a producer): the task takes the queue, priority and retry policy a worker
   * published for it. Rejects with TypeError, enqueuing nothing, for a reserved name, a
   * name unknown on the memory store, bad options (a `queue` other than the task's), or a payload JSON cannot hold exactly — a function,
   * BigInt, symbol, cycle, `NaN`/`±Infinity`, `undefined` in an array, a Map, Set, typed
   * array or class instance without `toJSON()`, an invalid Date, or nesting deeper than
   * 1,000 levels; the message names the path (`payload.items[2] is NaN`). Properties
   * whose value is `undefined` are left out, as `JSON.stringify` does, and `-0` is stored
   * as `0`. Resolves once the task is committed (durable stores); rejects with
   * StoreError when the commit fails, naming the cause (`SQLITE_FULL`…), or saying that
   * the outcome is unknown (the Redis connection broke after sending).
   */
  submit<Result = any>(name: string, payload?: unknown, options?: SubmitOptions): Promise<TaskHandle<Result>>
  /**
   * Runs a workflow (`chain`, `group`, `chord`, nested freely); a lone `sig` is a plain
   * task. Rejects with TypeError, storing nothing, for a malformed workflow or a member
   * whose task is not registered here (the message names the member).
   */
  submit<Result = any>(workflow: Chain | Group | Chord, options?: SubmitOptions): Promise<WorkflowHandle<Result>>
  submit<Result = any>(workflow: Signature, options?: SubmitOptions): Promise<TaskHandle<Result>>
  /** A handle for a workflow id obtained elsewhere. @throws TypeError if `id` is not a UUID. */
  workflow<Result = any>(id: string): WorkflowHandle<Result>

  /**
   * Submits task `name` with `payload` at every tick of `cron`: 5 fields (minute hour
   * day month weekday) or 6 (seconds first), with the usual lists, ranges, steps and
   * names. Stored in the executor's store; with several processes on one store each
   * tick runs once. Workers (`worker: true`) that registered `name` fire the ticks.
   * @throws TypeError for an invalid expression or time zone, an unknown task, a
   *   payload that is not JSON or a bad option — and nothing is stored.
   */
  schedule(name: string, cron: string, payload?: unknown, options?: ScheduleOptions): Promise<ScheduleInfo>
  /** Every schedule in the store. */
  schedules(): Promise<ScheduleInfo[]>
  /** Stops a schedule's ticks until it is resumed. @throws TypeError for an unknown id. */
  pauseSchedule(id: string): Promise<ScheduleInfo>
  /** Resumes a paused schedule from its next tick (ticks missed while paused do not run). */
  resumeSchedule(id: string): Promise<ScheduleInfo>
  /** Removes a schedule; false if there was none with this id. */
  removeSchedule(id: string): Promise<boolean>
  /**
   * Enqueues one task per payload in one engine call; all or nothing, on every store
   * (a Redis batch of several script calls is one MULTI/EXEC). `key` is not allowed.
   * Payloads are checked as in `submit`; the error names the index.
   */
  submitMany<Result = any>(name: string, payloads: unknown[], options?: Omit<SubmitOptions, 'key'>): Promise<TaskHandle<Result>[]>
  /**
   * Runs the handler directly — no queue, no store, no concurrency slot — with the
   * task's retry policy, timeout, rate limits and circuit breaker. Resolves to the
   * handler's value; rejects with `TaskFailedError` once retries are exhausted, or
   * `CircuitOpenError` when an open breaker refuses (`onOpen: 'fail'`).
   */
  run<Result = any>(name: string, payload?: unknown): Promise<Result>
  /** A handle for a task id obtained elsewhere. @throws TypeError if `id` is not a UUID. */
  task<Result = any>(id: string): TaskHandle<Result>

  /**
   * Resolves when no task is queued, delayed, waiting to retry or running. With the
   * SQLite store: when the file holds none that this executor works (for a producer:
   * when its submits are committed and the tasks it awaits have finished).
   */
  onIdle(): Promise<void>
  /**
   * A page of stored tasks, oldest first, filtered by `state`, `name` and `queue`.
   * Pass the returned `cursor` to get the next page; it is null on the last one.
   * On a durable store it first waits until this process's own writes are committed,
   * so it agrees with what `info()` already showed.
   * @throws TypeError for a bad limit, state or cursor.
   */
  list(options?: ListOptions): Promise<TaskPage>
  /**
   * Stored tasks per state, in total and per queue. Workflow coordinators (the internal
   * `taskloom-workflow` queue) are left out of both unless `internal: true`. On a
   * durable store it first waits until this process's own writes are committed.
   */
  counts(options?: { internal?: boolean }): Promise<TaskCounts>
  /**
   * The families of `metricsText()` as prom-client metrics, for a service that already
   * serves a prom-client registry; each scrape reads a fresh snapshot. prom-client is not
   * a dependency of taskloom. In TypeScript, {@link registerPrometheus} saves a cast.
   */
  prometheusCollectors(): PrometheusCollector[]
  /**
   * Registers {@link prometheusCollectors} in a prom-client `Registry` (`register` for the
   * global one); returns them.
   * @throws TypeError when `registry` has no `registerMetric`; prom-client's Error when a
   * taskloom metric is registered there already.
   */
  registerPrometheus(registry: { registerMetric(metric: any): void }): PrometheusCollector[]
  /**
   * Runs a FAILURE or REVOKED task again: it waits in its line as PENDING, keeping its
   * attempts and its last error. Its retry policy does not start over: a failed re-run
   * is final (as BullMQ's `job.retry()`). Resolves to its handle.
   * @throws TaskNotFoundError for an unknown id; TaskStateError for a task in another
   * state (nothing changes); TypeError for a string that is not a task id.
   */
  retry<Result = any>(id: string): Promise<TaskHandle<Result>>
  /**
   * Deletes a finished task (SUCCESS, FAILURE, REVOKED) and its logs, in every process's
   * view of the store; its idempotency key is free again. Resolves true.
   * @throws TaskNotFoundError for an unknown id; TaskStateError for a task that has not
   * finished (cancel it first, or drain its queue).
   */
  remove(id: string): Promise<true>
  /**
   * Deletes finished tasks and their logs, the oldest first, a chunk at a time (the
   * store's writer and other processes get their turn in between). Resolves how many.
   * @throws TypeError for a bad filter (a state that is not final, a negative age, a
   * limit below 1, an unknown option); nothing is deleted.
   */
  clean(filter?: CleanFilter): Promise<number>
  /**
   * Deletes the tasks of `queue` waiting to run — PENDING, delayed, RETRY waiting for its
   * delay — for every process sharing the store. Running tasks are left, and so are
   * tasks a worker has already claimed to start next (RECEIVED: up to one batch per
   * worker on a durable store). A `result()` awaiting a drained task rejects with
   * TaskNotFoundError, in any process. Resolves how many it deleted.
   */
  drain(queue: string): Promise<number>
  /** The artifacts task `id` saved, oldest first ([] when it saved none). */
  artifacts(id: string): Promise<ArtifactInfo[]>
  /** One artifact by its id (`<task id>.<n>`), or undefined. */
  artifact(id: string): Promise<ArtifactInfo | undefined>
  /**
   * Every queue that holds tasks, is paused, or has a task registered here, by name,
   * with its counts and paused flag. The internal `taskloom-workflow` queue only with
   * `internal: true`.
   */
  queues(options?: { internal?: boolean }): Promise<QueueInfo[]>
  /**
   * Pauses queue `name` for every process sharing the store: running tasks finish,
   * nothing new of it starts, submits are still accepted. Resolves true, or false when
   * it was paused already.
   * @throws TypeError for a name that is not a URL-safe queue name.
   */
  pauseQueue(name: string): Promise<boolean>
  /** Resumes a paused queue everywhere; resolves true, or false when it was not paused. */
  resumeQueue(name: string): Promise<boolean>
  /** Metrics per task name and per queue; see {@link MetricsSnapshot} for what is whose. */
  metrics(): Promise<MetricsSnapshot>
  /**
   * `metrics()` in the Prometheus text exposition format (checked by `promtool check
   * metrics`): `taskloom_tasks_completed_total{task,queue}` and the other `_total`
   * counters, `taskloom_tasks_running`, `taskloom_breaker_state{state}`,
   * `taskloom_task_wait_seconds` and `taskloom_task_run_seconds` histograms, and
   * `taskloom_queue_tasks{queue,state}`. Serve it at `/metrics`.
   */
  metricsText(): Promise<string>
  /**
   * Stops taking work and waits for running handlers; at `timeoutMs` aborts what is
   * left (those tasks fail with ExecutorClosedError). Queued tasks are not started.
   * Pending `result()` waiters reject with ExecutorClosedError.
   */
  close(options?: CloseOptions): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** Base class of taskloom's errors. */
export declare class TaskloomError extends Error {}

/** A task ended in FAILURE. Carries the handler error's type, message and stack. */
export declare class TaskFailedError extends TaskloomError {
  /** `'ERR_CIRCUIT_OPEN'` for a `CircuitOpenError`. */
  readonly code: 'ERR_TASK_FAILED' | 'ERR_CIRCUIT_OPEN'
  readonly taskId: string
  readonly taskName: string
  /** The handler error's type (its `name`). */
  readonly errorType: string
  readonly errorMessage: string
  readonly errorStack: string | null
  /** Retries made before it failed. */
  readonly retries: number
}

/** A task was refused without running: its circuit breaker is open (`onOpen: 'fail'`). */
export declare class CircuitOpenError extends TaskFailedError {
  readonly code: 'ERR_CIRCUIT_OPEN'
}

/** A task was cancelled (REVOKED). */
export declare class TaskCancelledError extends TaskloomError {
  readonly code: 'ERR_TASK_CANCELLED'
  readonly taskId: string
  readonly taskName: string | undefined
}

/** `result({ timeoutMs })` gave up waiting. The task itself goes on. */
export declare class TimeoutError extends TaskloomError {
  readonly code: 'ERR_RESULT_TIMEOUT'
  readonly taskId: string
  readonly timeoutMs: number
}

/** A handler exceeded its `timeoutMs`: the reason its `ctx.signal` aborted. */
export declare class TaskTimeoutError extends TaskloomError {
  readonly code: 'ERR_TASK_TIMEOUT'
  readonly timeoutMs: number
}

/** Throw from a handler to fail the task at once, skipping its remaining retries. */
export declare class NonRetryableError extends TaskloomError {
  readonly code: 'ERR_NON_RETRYABLE'
  constructor(message?: string, options?: ErrorOptions)
}

/** The executor is closed (or closed before the awaited task finished). */
export declare class ExecutorClosedError extends TaskloomError {
  readonly code: 'ERR_EXECUTOR_CLOSED'
}

/** The store failed: it cannot be opened (bad path, not a SQLite file, corrupt, another
 * application's or a newer taskloom's database; a Redis server that cannot be reached),
 * or a write to it failed (a submit while Redis is unreachable). */
export declare class StoreError extends TaskloomError {
  readonly code: 'ERR_STORE'
}

/**
 * A payload that its task's `params` schema refuses: `issues` lists each problem with
 * its path (a JSON pointer into the payload, `/` for the payload itself). Nothing was
 * enqueued.
 */
export declare class ParamsError extends TypeError {
  readonly code: 'ERR_INVALID_PARAMS'
  /** The task whose params refused the payload. */
  readonly task: string
  readonly issues: Array<{ path: string; message: string }>
}

/** The task's state does not allow the action (`retry` of a task that did not fail and
 * was not cancelled, `remove` of one that has not finished). Nothing changed. */
export declare class TaskStateError extends TaskloomError {
  readonly code: 'ERR_TASK_STATE'
}

/** Workers sharing a durable store define one task differently (another queue, retry
 * policy, timeout, limit…). Emitted as an `'error'` event by the executor whose
 * `register()` found the difference; `ex.info(name).conflicts` says what differs. */
export declare class DefinitionConflictError extends TaskloomError {
  readonly code: 'ERR_DEFINITION_CONFLICT'
}

/** A workflow member failed or was cancelled (the `errorType` a failed workflow reports). */
export declare class WorkflowError extends TaskloomError {
  readonly code: 'ERR_WORKFLOW'
  readonly member: { member: number; id: string | null }
}

/** No task with that id exists in the store (never submitted, or past retention). */
export declare class TaskNotFoundError extends TaskloomError {
  readonly code: 'ERR_TASK_NOT_FOUND'
}

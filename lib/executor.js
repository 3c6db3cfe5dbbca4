'use strict'
// The public Executor: registers handlers, submits tasks, hands out task handles and
// events. It translates and wires; the engine decides.

const { EventEmitter } = require('node:events')
const { NativeExecutor } = require('./native.js')
const { Dispatcher, countsForBreaker } = require('./dispatcher.js')
const { TaskContext } = require('./context.js')
const { TaskHandle, WorkflowHandle } = require('./handle.js')
const tracing = require('./tracing.js')
const { WORKFLOW_TASK, isWorkflow } = require('./workflow.js')
const { coordinate } = require('./coordinator.js')
const { WorkflowValues, engineSpecText } = require('./workflow-values.js')
const { Schedules } = require('./schedules.js')
const { toJsonText, fromJsonText } = require('./json.js')
const { ResultWaiters, outcome } = require('./results.js')
const { SubmitBatcher } = require('./submits.js')
const metrics = require('./metrics.js')
const { setLongTimeout, clearLongTimeout } = require('./timers.js')
const { submitOptionsJson, checkTimeoutOption, checkObject, checkKeys, rejectNonFinite, UUID } = require('./options.js')
const {
  TaskFailedError,
  CircuitOpenError,
  TaskTimeoutError,
  NonRetryableError,
  ExecutorClosedError,
  fromNative,
  describeThrown,
} = require('./errors.js')

/** Runs `fn`, turning native errors into the JS classes their codes name. */
function native(fn) {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

const DATE_FIELDS = ['createdAt', 'runAt', 'startedAt', 'completedAt']
/** Events that also report tasks running in other processes (Redis store). */
// Events that listeners in other processes get too (see crates/engine/src/engine/event_log.rs).
const REMOTE_EVENTS = ['state', 'completed', 'failed', 'progress', 'status', 'log']
// Events built from the engine's state changes.
const STATE_EVENTS = ['state', 'completed', 'failed']

/** A definition's `workers[].lastSeenAt` as a Date (the engine sends ms). */
function withDates(info) {
  if (Array.isArray(info.workers)) {
    for (const w of info.workers) w.lastSeenAt = new Date(w.lastSeenAt)
  }
  return info
}
/** How often a listening process looks at the store's event log (the engine's EVENTS_READ_MS). */
const EVENTS_POLL_MS = 50

function toTaskInfo(raw) {
  raw.payload = fromJsonText(raw.payload)
  raw.result = fromJsonText(raw.result)
  for (const f of DATE_FIELDS) raw[f] = raw[f] == null ? null : new Date(raw[f])
  for (const l of raw.logs) l.time = new Date(l.time)
  return raw
}

function toArtifact(raw) {
  raw.createdAt = new Date(raw.createdAt)
  return raw
}

function toScheduleInfo(raw) {
  raw.payload = fromJsonText(raw.payload)
  raw.nextRunAt = raw.nextRunAt == null ? null : new Date(raw.nextRunAt)
  raw.createdAt = new Date(raw.createdAt)
  return raw
}

function checkScheduleId(id) {
  if (typeof id !== 'string') throw new TypeError(`a schedule id must be a string, got ${typeof id}`)
  return id
}

const disposeSymbol = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')

class Executor extends EventEmitter {
  #native
  #dispatcher
  /** Definitions by engine index: `{ index, name, queue, handler, timeoutMs }`. */
  #defs = []
  #byName = new Map()
  /** The waiters of `result()` calls (lib/results.js). */
  #results
  /** `submit()` calls of this tick, coalesced (lib/submits.js). */
  #submits
  #idleWaiters = []
  #closing = null

  constructor(options = {}) {
    super()
    checkObject(options, 'Executor options')
    rejectNonFinite({ ...options, services: undefined }, '')
    // `services` are JS objects handed to handlers (ctx.services); the engine never sees them.
    const { services = {}, ...engineOptions } = options
    if (services === null || typeof services !== 'object' || Array.isArray(services)) {
      throw new TypeError(`\`services\` must be an object of named services (e.g. { db }), got ${services === null ? 'null' : Array.isArray(services) ? 'an array' : typeof services}`)
    }
    this.services = Object.freeze({ ...services })
    const config = { ...engineOptions, store: options.store ?? process.env.TASKLOOM_STORE ?? 'memory' }
    // Workflow coordinators run in every worker, whatever queues it works.
    if (Array.isArray(options.queues) && options.queues.length > 0) config.queues = [...options.queues, WORKFLOW_TASK]
    this.#native = native(() => new NativeExecutor(JSON.stringify(config)))
    this.storeKind = config.store.startsWith('sqlite:') ? 'sqlite' : config.store.startsWith('redis') ? 'redis' : 'memory'
    const kick = () => this.#dispatcher.kick()
    this.#results = new ResultWaiters(this.#native, kick)
    this.#submits = new SubmitBatcher(
      (def, texts, opts) => this.#enqueueNow(def, texts, opts),
      (ids, index) => new TaskHandle(this, ids, index, true),
      kick,
    )
    this.#dispatcher = new Dispatcher(this.#native, this.#defs, {
      beforeCycle: () => this.#flush(),
      settled: (info) => this.#results.settleById(info),
      settledHere: (slot, ok, x) => this.#results.settleHere(slot, ok, x),
      state: (doc) => this.#emitState(doc),
      progress: (ctx, percent, message) => {
        if (ctx.done) return
        if (ctx.slot >= 0) native(() => this.#native.progress(ctx.slot, percent, message ?? null))
        this.emit('progress', { id: ctx.id, name: ctx.name, percent, message })
      },
      status: (ctx, message) => {
        if (ctx.done) return
        if (ctx.slot >= 0) this.#native.status(ctx.slot, message)
        this.emit('status', { id: ctx.id, name: ctx.name, status: message })
      },
      log: (ctx, level, message) => {
        if (ctx.done) return
        if (ctx.slot >= 0) native(() => this.#native.log(ctx.slot, level, message))
        this.emit('log', { id: ctx.id, name: ctx.name, level, message, time: new Date() })
      },
      previous: (ctx) => this.#previousOf(ctx),
      services: () => this.services,
      saveArtifact: (ctx, data, options) => this.#saveArtifact(ctx, data, options),
      breaker: (name, from, to) => this.emit('breaker', { name, from, to }),
      rateLimited: (scope, name, until) => this.emit('rateLimited', { scope, name: scope === 'executor' ? null : name, until: new Date(until) }),
      remote: (events) => this.#emitRemote(events),
      storeError: (err) => this.#reportError(err),
      pumped: () => this.#checkIdle(),
    })
    if (this.#native.durable) this.#native.setWaker(() => this.#dispatcher.kick())
    this.on('newListener', (event) => {
      if (STATE_EVENTS.includes(event)) this.#native.setStateEvents(true)
      if (REMOTE_EVENTS.includes(event)) this.#listenElsewhere(true)
    })
    this.on('removeListener', (event) => {
      if (STATE_EVENTS.includes(event) && STATE_EVENTS.every((e) => this.listenerCount(e) === 0)) this.#native.setStateEvents(false)
      if (REMOTE_EVENTS.includes(event) && REMOTE_EVENTS.every((e) => this.listenerCount(e) === 0)) this.#listenElsewhere(false)
    })
    this.#registerCoordinator()
    this.#schedules = new Schedules(this.#native, () => this.#dispatcher.kick(), (err) => this.#reportError(err))
  }

  #schedules

  /** Workflows run as tasks of this internal definition (see lib/workflow.js). */
  #registerCoordinator() {
    this.register(
      WORKFLOW_TASK,
      (spec, ctx) => {
        // The engine plans with stand-ins for payloads and results (lib/workflow-values.js).
        const values = new WorkflowValues()
        const text = JSON.stringify(values.spec(spec))
        const resultRefs = new Map()
        const asRefs = (o) => {
          if (o[1] !== 'S') return o
          if (!resultRefs.has(o[0])) resultRefs.set(o[0], values.ref(o[2]))
          return [o[0], 'S', resultRefs.get(o[0])]
        }
        const plan = (outcomes) => {
          const next = JSON.parse(this.#native.workflowPlan(ctx.id, text, JSON.stringify(outcomes.map(asRefs))))
          for (const s of next.spawn) s.payload = values.resolve(s.payload)
          if (next.verdict?.ok) next.verdict.result = values.resolve(next.verdict.result)
          return next
        }
        return coordinate(this, plan, ctx)
      },
      {
        queue: WORKFLOW_TASK,
        description: 'coordinates a workflow (chain, group, chord)',
        // A coordinator stopped by a closing executor or a dead worker runs again and
        // picks up where its members are; a failed member fails it without retries.
        retry: { maxRetries: 1000, backoff: 'fixed', delayMs: 100 },
      },
    )
    const def = this.#byName.get(WORKFLOW_TASK)
    def.coordinator = true
    def.timeoutMs = null
  }

  /** `ctx.previous`: read from the task's workflow key and its workflow's spec when asked. */
  #previousOf(ctx) {
    if (ctx.slot < 0) return undefined // a direct run (ex.run) belongs to no workflow
    const info = this._info(ctx.id)
    const m = /^wf:([0-9a-f-]{36}):(\d+)$/.exec(info.key ?? '')
    if (m === null) return undefined
    const spec = engineSpecText(this._info(m[1]).payload)
    return this.#native.workflowMemberHasPrevious(spec, Number(m[2])) ? info.payload[0] : undefined
  }

  /**
   * A fault in the background (the store failing, a tick not submitted): an `'error'`
   * event for whoever listens, else a process warning — never an uncaught throw.
   */
  #reportError(err) {
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else process.emitWarning(err.message, { type: 'TaskloomStoreWarning', code: err.code })
  }

  /** This executor's worker id (recorded as `workerId` on the tasks it runs). */
  get workerId() {
    return this.#native.workerId
  }

  /** Handlers running right now in this process. */
  get running() {
    return this.#dispatcher.running
  }

  // ---- registry ----------------------------------------------------------------------

  register(name, handler, options = {}) {
    if (typeof name !== 'string') throw new TypeError(`task name must be a string, got ${typeof name}`)
    if (name === WORKFLOW_TASK && this.#byName.has(WORKFLOW_TASK)) throw new Error(`task name '${WORKFLOW_TASK}' is reserved for workflows`)
    if (typeof handler !== 'function') {
      throw new TypeError(`the handler of task '${name}' must be a function, got ${handler === null ? 'null' : typeof handler}`)
    }
    checkObject(options, `options of task '${name}'`)
    if (this.#closing) throw new ExecutorClosedError()
    // `circuitBreaker.isFailure` is a JS predicate: it stays here; the rest goes to the engine.
    let isFailure
    let engineOptions = options
    if (options.circuitBreaker != null && typeof options.circuitBreaker === 'object' && 'isFailure' in options.circuitBreaker) {
      isFailure = options.circuitBreaker.isFailure
      if (typeof isFailure !== 'function') {
        throw new TypeError(`\`circuitBreaker.isFailure\` of task '${name}' must be a function, got ${typeof isFailure}`)
      }
      const { isFailure: _, ...breaker } = options.circuitBreaker
      engineOptions = { ...options, circuitBreaker: breaker }
    }
    rejectNonFinite(engineOptions, '')
    const info = JSON.parse(native(() => this.#native.register(name, JSON.stringify(engineOptions))))
    const def = { index: info.index, name, queue: info.queue, handler, timeoutMs: info.timeoutMs, size: info.size, isFailure }
    this.#defs[info.index] = def
    this.#byName.set(name, def)
    if (engineOptions.circuitBreaker != null) this.#dispatcher.breakers = true
    this.#dispatcher.kick()
    return this
  }

  /**
   * Task definitions carrying every tag in `tags`: those registered here and, on a
   * durable store, those other workers published (with `workers` and `conflicts`).
   */
  tasks(filter = {}) {
    checkObject(filter, 'tasks() filter')
    checkKeys(filter, ['tags', 'internal'], 'tasks()')
    const tags = filter.tags ?? []
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
      throw new TypeError('`tags` must be an array of strings')
    }
    const all = JSON.parse(native(() => this.#native.tasks(tags))).map(withDates)
    return filter.internal === true ? all : all.filter((t) => t.name !== WORKFLOW_TASK)
  }

  /** Whether a handler for task `name` is registered in this executor. */
  has(name) {
    const def = this.#byName.get(name)
    return def !== undefined && def.handler !== null
  }

  /**
   * The definition of `name`, or undefined: registered here or, on a durable store,
   * published by a worker; there with `workers` (id, pid, alive, lastSeenAt) and
   * `conflicts` (where live workers' definitions differ).
   */
  info(name) {
    if (typeof name !== 'string') throw new TypeError(`expected a task name (string), got ${typeof name}`)
    const json = native(() => this.#native.definitionInfo(name))
    if (json === null) return undefined
    return withDates(JSON.parse(json))
  }

  /**
   * The circuit breaker of task `name`: `{ state, failures, successes, rejected,
   * openedAt, nextTryAt }`, or undefined when the task has none.
   */
  breaker(name) {
    this.#def(name)
    const json = native(() => this.#native.breaker(name))
    this.#dispatcher.kick() // a transition taken by this read is announced as an event
    if (json === null) return undefined
    const b = JSON.parse(json)
    b.openedAt = b.openedAt == null ? null : new Date(b.openedAt)
    b.nextTryAt = b.nextTryAt == null ? null : new Date(b.nextTryAt)
    return b
  }

  #def(name) {
    if (typeof name !== 'string') throw new TypeError(`expected a task name (string), got ${typeof name}`)
    if (name === WORKFLOW_TASK) {
      throw Object.assign(new TypeError(`task name '${WORKFLOW_TASK}' is reserved for workflows: submit a workflow (chain, group, chord) instead`), {
        code: 'ERR_RESERVED_TASK',
      })
    }
    const def = this.#byName.get(name)
    if (def === undefined || def.handler === null) {
      throw Object.assign(new TypeError(`unknown task '${name}': register it first with ex.register('${name}', handler)`), {
        code: 'ERR_UNKNOWN_TASK',
      })
    }
    return def
  }

  /**
   * The definition to submit `name` under. On a durable store a name with no handler
   * here is submitted by name (a producer): the engine takes its definition from the
   * store's shared registry (lib/../crates/engine/src/engine/shared_registry.rs).
   */
  #submittable(name) {
    const def = this.#byName.get(name)
    if (def !== undefined && def.handler === null) return def
    if (def !== undefined || !this.#dispatcher.durable || typeof name !== 'string' || name === WORKFLOW_TASK) return this.#def(name)
    const [index, queue] = JSON.parse(native(() => this.#native.remoteDefinition(name)))
    const remote = { index, name, queue, handler: null, timeoutMs: null, isFailure: undefined }
    this.#defs[index] = remote
    this.#byName.set(name, remote)
    return remote
  }

  #assertOpen() {
    if (this.#closing) throw new ExecutorClosedError()
  }

  // ---- submit and run ------------------------------------------------------------------

  /** Not `async`: submits of one tick go to the engine together (lib/submits.js). */
  submit(name, payload, options) {
    try {
      this.#assertOpen()
      if (isWorkflow(name)) return this.#submitWorkflow(name, payload)
      const def = this.#submittable(name)
      const text = toJsonText(payload, `the payload of task '${name}'`, 'payload')
      const opts = submitOptionsJson(options)
      // A keyed submit may answer with an existing task: it goes on its own.
      if (opts.includes('"key"')) return this.#submitOne(def, text, opts)
      return this.#submits.add(def, text, opts)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async #submitOne(def, text, opts) {
    let id = this.#enqueue(def, text, opts)
    if (typeof id !== 'string') id = await id
    return new TaskHandle(this, id, -1, true)
  }

  /**
   * Durable stores: resolves once every outcome this process reported so far is in the
   * store, so that a read of the store (counts) agrees with what `info()` already showed.
   */
  async #committed() {
    if (!this.#native.durable) return
    const ticket = native(() => this.#native.requestFlush())
    // A store whose writes are failing answers with an error: the read goes on (reads
    // work then), and the fault is reported on its own.
    if (ticket >= 0) await this.#dispatcher.whenCommitted(ticket).catch(() => {})
  }

  /** What this tick's submits and result() calls left for the engine, before anything reads it. */
  #flush() {
    this.#submits.flush()
    this.#results.flush(this.#closing !== null)
  }

  /**
   * Hands payload texts (newline separated) to the engine; resolves once they are stored
   * (committed, with a durable store) to the engine's ids — or, when an idempotency key
   * matched, to the existing task's id. With the memory store it returns the ids
   * themselves, not a promise: awaiting would let the tasks run (and be trimmed) before
   * the caller holds their handles.
   */
  #enqueue(def, texts, opts) {
    this.#submits.flush() // keeps FIFO order with the submit() calls made before
    return this.#enqueueNow(def, texts, opts)
  }

  #enqueueNow(def, texts, opts) {
    const ids = native(() => this.#native.submit(def.index, texts, opts))
    // The memory store stores at once; a durable store's writer commits, then answers the ticket.
    const ticket = this.#dispatcher.durable ? this.#native.takeTicket() : -1
    if (ticket < 0) {
      this.#dispatcher.kick()
      return ids
    }
    return this.#dispatcher.whenCommitted(ticket).then((existing) => existing ?? ids)
  }

  /** A workflow runs as one coordinator task, whose payload is the workflow's spec. */
  async #submitWorkflow(workflow, options) {
    if (workflow.sig !== undefined) {
      // A lone signature is just a task.
      return this.submit(workflow.sig, workflow.payload, { ...workflow.options, ...options })
    }
    const spec = toJsonText(workflow, 'the workflow', 'payload')
    native(() => this.#native.workflowMembers(engineSpecText(workflow), null))
    let id = this.#enqueue(this.#byName.get(WORKFLOW_TASK), spec, submitOptionsJson(options))
    if (typeof id !== 'string') id = await id
    return new WorkflowHandle(this, id, -1, true)
  }

  /** The members of workflow `id`: `{ member, name, path, id, state }` each, in order. */
  async _members(id) {
    const info = this._info(id)
    if (info.name !== WORKFLOW_TASK) throw new TypeError(`task ${id} is not a workflow`)
    const members = JSON.parse(native(() => this.#native.workflowMembers(engineSpecText(info.payload), id)))
    const decided = info.state === 'SUCCESS' || info.state === 'FAILURE' || info.state === 'REVOKED'
    return members.map((m) => {
      const memberId = native(() => this.#native.idByKey(m.key))
      const state = memberId !== null ? this._state(memberId) : decided ? 'REVOKED' : 'PENDING'
      return { member: m.member, name: m.name, path: m.path, id: memberId, state }
    })
  }

  /** The id of the task submitted with idempotency `key`, or null (the dashboard's search). */
  _idByKey(key) {
    this.#flush()
    return native(() => this.#native.idByKey(key))
  }

  /** A handle for workflow `id` (from `submit(workflow)` elsewhere). */
  workflow(id) {
    return new WorkflowHandle(this, this.task(id).id)
  }

  // ---- cron schedules ------------------------------------------------------------------

  /**
   * Submits task `name` with `payload` at every tick of `cron` (5 fields, or 6 with
   * seconds first). Options: `id` (default derived from name, expression and time
   * zone: declaring it again updates it), `tz` (IANA name, default UTC), `missed`
   * ('runOnce', the default, or 'skip').
   */
  async schedule(name, cron, payload, options = {}) {
    this.#assertOpen()
    this.#def(name)
    if (typeof cron !== 'string') throw new TypeError(`a cron expression must be a string, got ${typeof cron}`)
    checkObject(options, 'schedule() options')
    const { id, tz, missed, ...rest } = options
    const unknown = Object.keys(rest)
    if (unknown.length > 0) throw new TypeError(`unknown schedule() option '${unknown[0]}' (expected id, tz, missed)`)
    const text = toJsonText(payload, `the payload of schedule '${name}'`, 'payload')
    const spec = JSON.stringify({ name, cron, payload: text, id, tz, missed })
    const info = JSON.parse(native(() => this.#native.schedule(spec)))
    this.#schedules.changed()
    return toScheduleInfo(info)
  }

  /** Every schedule in the store. */
  async schedules() {
    return JSON.parse(native(() => this.#native.schedules())).map(toScheduleInfo)
  }

  /** Stops a schedule's ticks until `resumeSchedule`. */
  async pauseSchedule(id) {
    const info = JSON.parse(native(() => this.#native.setSchedulePaused(checkScheduleId(id), true)))
    this.#schedules.changed()
    return toScheduleInfo(info)
  }

  /** Starts a paused schedule again from its next tick (ticks missed while paused do not run). */
  async resumeSchedule(id) {
    const info = JSON.parse(native(() => this.#native.setSchedulePaused(checkScheduleId(id), false)))
    this.#schedules.changed()
    return toScheduleInfo(info)
  }

  /** Removes a schedule; resolves false if there was none with this id. */
  async removeSchedule(id) {
    const removed = native(() => this.#native.removeSchedule(checkScheduleId(id)))
    this.#schedules.changed()
    return removed
  }

  async submitMany(name, payloads, options) {
    this.#assertOpen()
    const def = this.#submittable(name)
    if (!Array.isArray(payloads)) throw new TypeError(`submitMany expects an array of payloads, got ${typeof payloads}`)
    const opts = submitOptionsJson(options)
    if (opts.includes('"key"')) throw new TypeError('an idempotency `key` applies to a single task: use submit()')
    if (payloads.length === 0) return []
    const texts = new Array(payloads.length)
    let i = 0
    try {
      for (; i < payloads.length; i++) texts[i] = toJsonText(payloads[i], 'a payload', 'payload')
    } catch (err) {
      throw new TypeError(`the payload at index ${i} of task '${name}' is not JSON: ${err.problem}`)
    }
    // No key here: the ids are the engine's.
    let ids = this.#enqueue(def, texts.join('\n'), opts)
    if (typeof ids !== 'string') ids = await ids
    const handles = new Array(payloads.length)
    for (let i = 0; i < handles.length; i++) handles[i] = new TaskHandle(this, ids, i, true)
    return handles
  }

  /**
   * Runs a task's handler directly — no queue, no store — with its retry policy and
   * timeout. Resolves to the handler's value; rejects with TaskFailedError.
   */
  async run(name, payload) {
    this.#assertOpen()
    const def = this.#def(name)
    const text = toJsonText(payload, `the payload of task '${name}'`, 'payload')
    native(() => this.#native.checkPayload(def.index, text))
    const id = this.#native.newId()
    for (let attempt = 1; ; attempt++) {
      const trial = await this.#directPermit(def, id, attempt)
      const ctx = new TaskContext(this.#dispatcher.hooks, -1, id, def, attempt)
      try {
        const call = () => runDirect(def, JSON.parse(text), ctx)
        // Traced like a queued run, under the span active now (lib/tracing.js).
        const value = await (tracing.active() ? tracing.inRunSpan({ id, name, queue: def.queue, attempt }, call) : call())
        this.#native.directFinish(def.index, trial, false, true)
        this.#dispatcher.kick() // deliver breaker events
        return value
      } catch (err) {
        ctx.done = true
        this.#native.directFinish(def.index, trial, true, countsForBreaker(def, err))
        this.#dispatcher.kick()
        const error = describeThrown(err)
        const nonRetryable = err instanceof NonRetryableError || (err != null && err.retryable === false)
        const delay = this.#native.retryDelay(def.index, attempt, nonRetryable)
        if (delay < 0) {
          if (err instanceof TaskTimeoutError) error.timeout = true
          throw new TaskFailedError({ id, name, error, retries: attempt - 1 })
        }
        if (delay > 0) await new Promise((resolve) => setLongTimeout(resolve, delay))
      }
    }
  }

  /** Waits until the task's breaker and rate limits let a direct run start; true for a trial run. */
  async #directPermit(def, id, attempt) {
    for (;;) {
      if (this.#closing) throw new ExecutorClosedError()
      const r = this.#native.directAcquire(def.index)
      if (r === -1 || r === -2) return r === -2
      this.#dispatcher.kick()
      if (r === -3) {
        const error = { type: 'CircuitOpenError', message: `the circuit breaker of task '${def.name}' is open`, stack: null }
        throw new CircuitOpenError({ id, name: def.name, error, retries: attempt - 1 })
      }
      await new Promise((resolve) => setLongTimeout(resolve, Math.max(1, r - Date.now())))
    }
  }

  /**
   * A page of stored tasks, oldest first: `{ tasks, cursor }`. Filter by `state`,
   * `name`, `queue`; `limit` (1–1000, default 100); pass `cursor` for the next page.
   */
  async list(options = {}) {
    checkObject(options, 'list() options')
    rejectNonFinite(options, '')
    this.#submits.flush()
    await this.#committed()
    const page = JSON.parse(native(() => this.#native.list(JSON.stringify(options))))
    page.tasks = page.tasks.map(toTaskInfo)
    return page
  }

  /** Stored tasks per state: `{ total: { PENDING: n, … }, queues: { name: { … } } }`. */
  async counts(options = {}) {
    checkObject(options, 'counts() options')
    checkKeys(options, ['internal'], 'counts()')
    this.#submits.flush()
    await this.#committed()
    const counts = JSON.parse(native(() => this.#native.counts()))
    const internal = counts.queues[WORKFLOW_TASK]
    if (options.internal === true || internal === undefined) return counts
    // Workflow coordinators are taskloom's own bookkeeping: out of the totals unless asked for.
    delete counts.queues[WORKFLOW_TASK]
    for (const state of Object.keys(counts.total)) counts.total[state] -= internal[state] ?? 0
    return counts
  }

  /**
   * Every queue — holding tasks, paused, or with a task registered here — with its
   * counts by state and whether it is paused: `[{ name, paused, counts }]` by name.
   * The workflow coordinators' queue only with `{ internal: true }`.
   */
  async queues(options = {}) {
    checkObject(options, 'queues() options')
    checkKeys(options, ['internal'], 'queues()')
    this.#submits.flush()
    const all = JSON.parse(native(() => this.#native.queues()))
    return options.internal === true ? all : all.filter((q) => q.name !== WORKFLOW_TASK)
  }

  /**
   * Pauses queue `name` in every process sharing the store: running tasks finish,
   * nothing new of it starts, submits are still accepted. Resolves whether it was
   * running before (false: already paused).
   */
  async pauseQueue(name) {
    return this.#setPaused(name, true)
  }

  /** Resumes a paused queue everywhere; resolves whether it was paused. */
  async resumeQueue(name) {
    return this.#setPaused(name, false)
  }

  #setPaused(name, paused) {
    this.#assertOpen()
    if (typeof name !== 'string') throw new TypeError(`expected a queue name (string), got ${typeof name}`)
    const changed = native(() => this.#native.setQueuePaused(name, paused))
    if (!paused) this.#dispatcher.kick()
    return changed
  }

  /**
   * Metrics: per task name, what this process counted (outcomes, rate-limited waits,
   * breaker transitions, running now, wait and run time histograms) and its breaker's
   * state; per queue, the same summed, and the store's depth by state (with a durable
   * store: the whole store, every process).
   */
  async metrics() {
    const perName = JSON.parse(native(() => this.#native.metrics()))
    this.#dispatcher.kick() // a breaker transition taken by this read is announced as an event
    return metrics.snapshot(perName, await this.counts())
  }

  /** `metrics()` in the Prometheus text exposition format, for a `/metrics` endpoint. */
  async metricsText() {
    return metrics.prometheusText(await this.metrics())
  }

  /**
   * The families of `metricsText()` as prom-client metrics, for a service that already
   * serves a prom-client registry: `for (const m of ex.prometheusCollectors())
   * register.registerMetric(m)`. Each scrape reads a fresh snapshot. prom-client is not
   * a dependency of taskloom.
   */
  prometheusCollectors() {
    return metrics.collectors(() => this.metrics())
  }

  /** Registers `prometheusCollectors()` in a prom-client `registry`; returns them. */
  registerPrometheus(registry) {
    if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function') {
      throw new TypeError('registerPrometheus expects a prom-client Registry (an object with registerMetric)')
    }
    const list = this.prometheusCollectors()
    for (const m of list) registry.registerMetric(m)
    return list
  }

  /** A handle for a task id obtained elsewhere. */
  task(id) {
    if (typeof id !== 'string' || !UUID.test(id)) throw new TypeError(`'${String(id)}' is not a task id (expected a UUID)`)
    return new TaskHandle(this, id.toLowerCase())
  }

  // ---- acting on stored tasks ---------------------------------------------------------------

  /**
   * Runs a FAILURE or REVOKED task again: it waits in its line as PENDING, keeping its
   * attempts and last error (its retry policy does not start over, so a failed re-run is
   * final). Resolves to its handle. Rejects with TaskNotFoundError for an unknown id,
   * TaskStateError for another state (nothing changes).
   */
  async retry(id) {
    this.#assertOpen()
    const handle = this.task(id)
    this.#flush()
    native(() => this.#native.retryTask(handle.id))
    this.#dispatcher.kick()
    return handle
  }

  /**
   * Deletes a finished task (SUCCESS, FAILURE, REVOKED) and its logs; resolves true.
   * Rejects with TaskNotFoundError for an unknown id, TaskStateError for a task that has
   * not finished (cancel it first, or drain its queue).
   */
  async remove(id) {
    this.#assertOpen()
    const handle = this.task(id)
    this.#flush()
    native(() => this.#native.removeTask(handle.id))
    return true
  }

  /**
   * Deletes finished tasks and their logs, the oldest first, a chunk at a time (the store's
   * writer gets its turn in between): those in `state` (one of SUCCESS, FAILURE, REVOKED or
   * a list; default all three), finished at least `olderThanMs` ago (default 0), of task
   * `name` and queue `queue` when given, at most `limit`. Resolves how many.
   */
  async clean(filter = {}) {
    this.#assertOpen()
    checkObject(filter, 'clean() options')
    checkKeys(filter, ['state', 'olderThanMs', 'name', 'queue', 'limit'], 'clean()')
    rejectNonFinite(filter, '')
    this.#flush()
    return native(() => this.#native.clean(JSON.stringify(filter)))
  }

  /**
   * Deletes the tasks of `queue` that wait to run — PENDING, delayed, RETRY waiting for its
   * delay — in every process sharing the store; running and claimed ones are left. A
   * `result()` awaiting a drained task rejects with TaskNotFoundError. Resolves how many.
   */
  async drain(queue) {
    this.#assertOpen()
    if (typeof queue !== 'string') throw new TypeError(`expected a queue name (string), got ${typeof queue}`)
    this.#flush()
    const [n, awaited] = JSON.parse(native(() => this.#native.drain(queue)))
    this.#results.goneHere(awaited)
    this.#dispatcher.kick()
    return n
  }

  // ---- artifacts ---------------------------------------------------------------------------

  async #saveArtifact(ctx, data, options = {}) {
    checkObject(options, 'saveArtifact() options')
    checkKeys(options, ['tags'], 'saveArtifact()')
    const tags = options.tags ?? []
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw new TypeError('`tags` must be an array of strings')
    if (ctx.slot < 0) throw new TypeError('a direct run (ex.run) has no stored task to keep artifacts with: submit the task instead')
    const text = toJsonText(data, 'the artifact', 'data')
    return native(() => this.#native.saveArtifact(ctx.id, text, tags))
  }

  /**
   * The artifacts task `id` saved with `ctx.saveArtifact`, oldest first:
   * `{ id, taskId, createdAt, tags, data }` each ([] for a task without any).
   */
  async artifacts(id) {
    const handle = this.task(id)
    return JSON.parse(native(() => this.#native.artifacts(handle.id))).map(toArtifact)
  }

  /** One artifact by its id (`<task id>.<n>`), or undefined. */
  async artifact(id) {
    if (typeof id !== 'string') throw new TypeError(`expected an artifact id (string), got ${typeof id}`)
    const json = native(() => this.#native.artifact(id.toLowerCase()))
    return json === null ? undefined : toArtifact(JSON.parse(json))
  }

  // ---- handles call these ------------------------------------------------------------------

  /** Not `async`: one promise per awaited task, not two. The id is `ids` or the index-th in it. */
  _result(ids, index, options, submitted = false) {
    let timeoutMs
    try {
      if (options !== undefined) {
        checkObject(options, 'result() options')
        checkKeys(options, ['timeoutMs'], 'result()')
        timeoutMs = checkTimeoutOption(options.timeoutMs, 'result() timeoutMs')
      }
    } catch (err) {
      return Promise.reject(err)
    }
    const p = this.#results.wait(ids, index, submitted, timeoutMs)
    // Once closed nothing pumps on its own: look it up at once.
    if (this.#closing) this.#flush()
    return p
  }

  _state(id) {
    this.#submits.flush()
    return native(() => this.#native.state(id))
  }

  _info(id) {
    this.#submits.flush()
    return toTaskInfo(JSON.parse(native(() => this.#native.info(id))))
  }

  _cancel(id) {
    // A result() waiting to be watched must be watched before the task can be revoked and trimmed.
    this.#flush()
    const r = native(() => this.#native.cancel(id))
    if (r === -2) return false
    // -3: it runs in another process, whose worker aborts it.
    if (r >= 0) this.#dispatcher.cancelRun(r)
    this.#dispatcher.kick() // deliver the settled event of a revoked task
    return true
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Resolves when no task is queued, delayed, waiting to retry or running. */
  onIdle() {
    if (this.#isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  #isIdle() {
    return !this.#submits.pending && this.#native.unfinished === 0 && this.#dispatcher.running === 0
  }

  /** Progress, status and logs of tasks that run in other processes (Redis store). */
  /**
   * A state change (here or, from the store's event log, in another process):
   * `'state'`, and `'completed'` for a SUCCESS, `'failed'` for a FAILURE or a RETRY.
   */
  #emitState([, id, name, queue, state, attempt, durationMs, detail]) {
    this.emit('state', { id, name, queue, state })
    if (state === 'SUCCESS') this.emit('completed', { id, name, queue, result: detail, durationMs, attempt })
    else if (state === 'FAILURE' || state === 'RETRY') {
      this.emit('failed', { id, name, queue, error: detail, attempt, willRetry: state === 'RETRY', durationMs })
    }
  }

  #eventsTimer = null

  /**
   * Listening to other processes' events: the engine registers this process in the
   * store as a listener and reads the store's event log when a step comes; this timer
   * makes the steps come while nothing else does. It does not keep Node running.
   */
  #listenElsewhere(on) {
    this.#native.setRemoteEvents(on)
    if (!this.#dispatcher.durable) return
    if (on && this.#eventsTimer === null) {
      this.#eventsTimer = setInterval(() => this.#dispatcher.kick(), EVENTS_POLL_MS)
      this.#eventsTimer.unref()
    } else if (!on && this.#eventsTimer !== null) {
      clearInterval(this.#eventsTimer)
      this.#eventsTimer = null
    }
  }

  /** Events of tasks in other processes, read from the store's event log. */
  #emitRemote(events) {
    for (const e of events) {
      if (e[0] === 'state') this.#emitState(e)
      else if (e[0] === 'progress') this.emit('progress', { id: e[1], name: e[2], percent: e[3], message: e[4] ?? undefined })
      else if (e[0] === 'status') this.emit('status', { id: e[1], name: e[2], status: e[3] })
      else if (e[0] === 'log') this.emit('log', { id: e[1], name: e[2], level: e[3], message: e[4], time: new Date(e[5]) })
    }
  }

  #checkIdle() {
    if (this.#idleWaiters.length > 0 && this.#isIdle()) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /**
   * Stops taking work and waits for running handlers; at `timeoutMs` (default 10 s)
   * aborts what is left (those tasks fail with ExecutorClosedError).
   */
  close(options = {}) {
    if (this.#closing) return this.#closing
    checkObject(options, 'close() options')
    checkKeys(options, ['timeoutMs'], 'close()')
    const timeoutMs = checkTimeoutOption(options.timeoutMs, 'close() timeoutMs') ?? 10_000
    this.#flush() // submits and result() calls made before close() count as made while open
    this.#closing = (async () => {
      this.#schedules.stop()
      if (this.#eventsTimer !== null) clearInterval(this.#eventsTimer)
      await this.#dispatcher.close(timeoutMs)
      this.#native.close()
      this.#dispatcher.pump() // outcomes committed while closing settle their waiters
      this.#results.closeAll()
      const idle = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of idle) w()
    })()
    return this.#closing
  }

  [disposeSymbol]() {
    return this.close()
  }
}

/** Calls a handler directly, racing its timeout if it has one. */
function runDirect(def, payload, ctx) {
  const result = Promise.resolve().then(() => def.handler(payload, ctx))
  if (def.timeoutMs === null) return result
  return new Promise((resolve, reject) => {
    const timer = setLongTimeout(() => {
      const reason = new TaskTimeoutError(def.name, def.timeoutMs)
      ctx.abort(reason)
      reject(reason)
    }, def.timeoutMs)
    result.then(
      (v) => {
        clearLongTimeout(timer)
        resolve(v)
      },
      (e) => {
        clearLongTimeout(timer)
        reject(e)
      },
    )
  })
}

module.exports = { Executor }

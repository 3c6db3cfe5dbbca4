'use strict'
// The dispatch trampoline: pulls claimed tasks from the engine in batches, runs their
// handlers, and reports completions back in batches. One native call per batch in each
// direction — coalesced per microtask — and no promise or crossing per task.

const { TaskContext } = require('./context.js')
const { WorkflowInterruptedError } = require('./coordinator.js')
const { toJsonText } = require('./json.js')
const { setLongTimeout, clearLongTimeout, DueTimer } = require('./timers.js')
const tracing = require('./tracing.js')
const { describeThrown, NonRetryableError, TaskTimeoutError, ExecutorClosedError, TaskCancelledError, StoreError, DefinitionConflictError } = require('./errors.js')

/** After this many back-to-back microtask pumps, yield one macrotask turn to I/O. */
const PUMPS_PER_YIELD = 64

class Dispatcher {
  /**
   * @param native the NativeExecutor
   * @param defs   definitions by index: `{ name, queue, handler, timeoutMs, size }`
   * @param hooks  `{ beforeCycle(), settled(info), settledHere(slot, ok, x), state(id, name, state), breaker(name, from, to),
   *                rateLimited(scope, name, until), progress/status/log(ctx, …), pumped() }`
   */
  constructor(native, defs, hooks) {
    this.native = native
    this.defs = defs
    this.hooks = hooks
    this.concurrency = native.worker ? native.concurrency : 0
    /** Handlers running (workflow coordinators not counted). */
    this.running = 0
    /** Slots of `concurrency` they take: each its task's `size`. */
    this.slotsUsed = 0
    /** Running task contexts by engine slot. */
    this.runs = []
    this.completions = ''
    /** Successes in `completions` whose waiters this side settles: slot, result text, … */
    this.successes = []
    /** Runs are traced (lib/tracing.js), as looked at in this step. */
    this.traced = false
    this.scheduled = false
    this.pumpsSinceYield = 0
    this.timer = new DueTimer(() => this.kick())
    /** Some definition here has a circuit breaker: its open→half-open time is watched. */
    this.breakers = false
    this.breakerTimer = new DueTimer(
      () => {
        native.observeBreakers()
        this.kick() // deliver the transition's event, and arm for the next breaker
      },
      { unref: true },
    )
    this.closing = false
    /** Called when the last running task finishes while closing. */
    this.onDrained = null
    /** Durable stores: submits waiting for their commit, by ticket. */
    this.tickets = new Map()
    this.durable = native.durable
    this.keepAlive = null
    this.pump = this.pump.bind(this)
  }

  /** Resolves when the submit with this ticket is committed (to the id a key matched, if any). */
  whenCommitted(ticket) {
    return new Promise((resolve, reject) => {
      this.tickets.set(ticket, { resolve, reject })
      this.kick()
    })
  }

  committed(ticket, error, existingId) {
    const t = this.tickets.get(ticket)
    if (t === undefined) return
    this.tickets.delete(ticket)
    if (error === null) t.resolve(existingId)
    else t.reject(new StoreError(error))
  }

  /** Asks for a pump soon (coalesces every request made before it runs). */
  kick() {
    if (this.scheduled) return
    this.scheduled = true
    if (++this.pumpsSinceYield < PUMPS_PER_YIELD) {
      queueMicrotask(this.pump)
    } else {
      this.pumpsSinceYield = 0
      setImmediate(this.pump)
    }
  }

  pump() {
    this.scheduled = false
    // Submits and result() calls of this tick reach the engine first, each kind in one call.
    this.hooks.beforeCycle()
    const completions = this.completions
    this.completions = ''
    const successes = this.successes
    if (successes.length > 0) this.successes = []
    const capacity = this.closing ? 0 : this.concurrency - this.slotsUsed
    const out = this.native.cycle(completions, capacity)
    if (out !== null) {
      const [tasks, events, due] = JSON.parse(out)
      // Whether runs are traced is looked at once per step, not once per task.
      if (tasks.length > 0) this.traced = tracing.active()
      // Five values per task: slot, id, definition index, attempt, payload.
      for (let i = 0; i < tasks.length; i += 5) this.start(tasks[i], tasks[i + 1], tasks[i + 2], tasks[i + 3], tasks[i + 4])
      // Arm before the events: a listener that throws must not leave the timer unset.
      this.arm(due)
      for (let i = 0; i < events.length; i++) {
        const e = events[i]
        switch (e[0]) {
          case 'ok': // a success held here: [slot, result text]
            this.hooks.settledHere(e[1], true, e[2])
            break
          case 'done': // any other outcome held here: [slot, outcome]
            this.hooks.settledHere(e[1], false, e[2])
            break
          case 'settled': // a task held elsewhere: its info
            this.hooks.settled(e[1])
            break
          case 'state': // ["state", id, name, queue, STATE, attempt, durationMs, detail]
            this.hooks.state(e)
            break
          case 'breaker':
            this.hooks.breaker(e[1], e[2], e[3])
            break
          case 'rateLimited':
            this.hooks.rateLimited(e[1], e[2], e[3])
            break
          case 'committed':
            this.committed(e[1], e[2], e[3])
            break
          case 'abort': // cancelled from another process
            this.cancelRun(e[1])
            break
          case 'remote': // progress, status and logs of tasks running elsewhere
            this.hooks.remote(e[1])
            break
          case 'storeError': // the store's writes began failing (once per episode)
            this.hooks.storeError(new StoreError(e[1]))
            break
          case 'conflict': // workers sharing the store define a task differently
            this.hooks.storeError(new DefinitionConflictError(e[1]))
            break
        }
      }
    } else {
      this.arm(null)
    }
    // After the events: a success that a cancel turned into REVOKED came as a 'done' event
    // and has no waiters left here.
    for (let i = 0; i < successes.length; i += 2) this.hooks.settledHere(successes[i], true, successes[i + 1])
    if (this.breakers) this.armBreaker(this.native.breakerDue)
    if (this.durable) this.holdOpen(!this.closing && this.native.unfinished > 0)
    this.hooks.pumped()
  }

  /**
   * With a durable store, work can be pending with no timer here (a commit, a task
   * another process runs, a claim the writer thread is waiting to fill): its wake-up
   * comes through a weak threadsafe function, which does not keep Node running. This
   * handle does, while anything is unfinished.
   */
  holdOpen(on) {
    if (on && this.keepAlive === null) this.keepAlive = setInterval(noop, 60_000)
    else if (!on && this.keepAlive !== null) {
      clearInterval(this.keepAlive)
      this.keepAlive = null
    }
  }

  /**
   * Keeps one timer for the engine's next due time (a delayed task, a retry, the end of a
   * rate-limit wait or of an open breaker); it holds the process open while work waits.
   */
  arm(due) {
    this.timer.set(this.closing ? null : due)
  }

  /**
   * An open breaker turns half-open at its reset time even when nothing of its task waits:
   * this timer takes that transition then (so `breaker()`, metrics and the 'breaker' event
   * tell the truth on time). Unref'd: an open breaker alone does not keep Node running.
   */
  armBreaker(due) {
    this.breakerTimer.set(this.closing ? null : due)
  }

  start(slot, id, defIndex, attempt, payload) {
    const def = this.defs[defIndex]
    const ctx = new TaskContext(this.hooks, slot, id, def, attempt)
    this.runs[slot] = ctx
    // A workflow coordinator mostly waits on its members: it takes no concurrency slot
    // (or workflows could fill every slot and wait for members that cannot start).
    ctx.counted = def.coordinator !== true
    if (ctx.counted) {
      this.running++
      this.slotsUsed += def.size
    }
    if (def.timeoutMs !== null) ctx.timer = setLongTimeout(() => timedOut(this, ctx, def), def.timeoutMs)
    let r
    if (this.traced) {
      this.startTraced(def, ctx, id, attempt, payload)
      return
    }
    try {
      r = def.handler(payload, ctx)
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
        r.then(
          (v) => this.succeed(ctx, v),
          (e) => this.fail(ctx, e),
        )
        return
      }
    } catch (err) {
      this.fail(ctx, err)
      return
    }
    this.succeed(ctx, r)
  }

  /** `start` inside a span (lib/tracing.js), parented on the span active at submit. */
  startTraced(def, ctx, id, attempt, payload) {
    const task = { id, name: def.name, queue: def.queue, attempt, traceparent: this.native.slotTrace(ctx.slot) }
    tracing
      .inRunSpan(task, async () => def.handler(payload, ctx))
      .then(
        (v) => this.succeed(ctx, v),
        (e) => this.fail(ctx, e),
      )
  }

  finish(ctx) {
    ctx.done = true
    if (ctx.timer !== undefined) clearLongTimeout(ctx.timer)
    this.runs[ctx.slot] = undefined
    if (ctx.counted) {
      this.running--
      this.slotsUsed -= TaskContext.definitionOf(ctx).size
    }
    if (this.running === 0 && this.onDrained !== null) this.onDrained()
  }

  succeed(ctx, value) {
    if (ctx.done) return
    let text
    try {
      text = toJsonText(value, 'a result', 'result')
    } catch (err) {
      this.fail(ctx, new TypeError(`the result of task '${ctx.name}' is not JSON: ${err.problem}`))
      return
    }
    this.finish(ctx)
    if (this.durable) {
      // Settled once the store has committed the outcome, by the store's notice.
      this.completions += ctx.slot + 'S' + text + '\n'
    } else {
      // Recorded by the next cycle, then settled here from the text: no event, no re-read.
      this.completions += ctx.slot + 'H' + text + '\n'
      this.successes.push(ctx.slot, text)
    }
    this.kick()
  }

  fail(ctx, err) {
    if (ctx.done) return
    const e = describeThrown(err)
    if (err instanceof NonRetryableError || err instanceof ExecutorClosedError || (err != null && err.retryable === false)) {
      e.nonRetryable = true
    }
    if (err instanceof TaskTimeoutError) e.timeout = true
    if (!countsForBreaker(TaskContext.definitionOf(ctx), err)) e.ignoredByBreaker = true
    this.finish(ctx)
    this.completions += ctx.slot + 'F' + JSON.stringify(e) + '\n'
    this.kick()
  }

  /** Aborts a running task's signal (cancel); it is REVOKED when its handler returns. */
  cancelRun(slot) {
    const ctx = this.runs[slot]
    if (ctx !== undefined) ctx.abort(new TaskCancelledError({ id: ctx.id, name: ctx.name }))
  }

  /** Stops claiming; resolves when nothing runs, or at `deadline` after aborting the rest. */
  async close(timeoutMs) {
    this.closing = true
    this.arm(null)
    this.armBreaker(null)
    // Workflow coordinators stop now and run again later (or in another worker): they
    // fail with a retryable error, their members untouched.
    for (const ctx of this.runs) {
      if (ctx === undefined || ctx.counted) continue
      const reason = new WorkflowInterruptedError('the executor closed; the workflow goes on in the next run of its coordinator')
      ctx.abort(reason)
      this.fail(ctx, reason)
    }
    if (this.running > 0) {
      await new Promise((resolve) => {
        const deadline = setLongTimeout(() => {
          for (const ctx of this.runs) {
            if (ctx === undefined) continue
            const reason = new ExecutorClosedError(`the executor closed before task '${ctx.name}' finished`)
            ctx.abort(reason)
            this.fail(ctx, reason)
          }
          resolve()
        }, timeoutMs)
        this.onDrained = () => {
          clearLongTimeout(deadline)
          resolve()
        }
      })
      this.onDrained = null
    }
    this.pump() // flush the last completions so that their outcome is recorded
  }
}

/** Whether a failure counts for the task's circuit breaker: its `isFailure`, if any, decides. */
function countsForBreaker(def, err) {
  if (def.isFailure === undefined) return true
  try {
    return Boolean(def.isFailure(err))
  } catch {
    return true // a predicate that throws cannot vouch for the error
  }
}

function noop() {}

function timedOut(dispatcher, ctx, def) {
  if (ctx.done) return
  const reason = new TaskTimeoutError(def.name, def.timeoutMs)
  ctx.abort(reason)
  dispatcher.fail(ctx, reason)
}

module.exports = { Dispatcher, countsForBreaker }

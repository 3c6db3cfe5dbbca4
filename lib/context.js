'use strict'
const { describeGiven } = require('./options.js')
// The `ctx` a handler receives: who it is, a signal that aborts on cancel / timeout /
// close, and the controls that report progress, status and logs.

const LEVELS = new Set(['debug', 'info', 'warning', 'warn', 'error'])

class TaskContext {
  #sink
  #def
  #controller = null
  #reason = undefined

  /**
   * @param sink receives the controls: `{ progress(ctx, p, m), status(ctx, m), log(ctx, l, m) }`
   */
  constructor(sink, slot, id, def, attempt) {
    this.#sink = sink
    this.#def = def
    this.slot = slot
    this.id = id
    this.name = def.name
    this.queue = def.queue
    this.attempt = attempt
    /** Set once the run has been reported; later reports are ignored. */
    this.done = false
    this.timer = undefined
  }

  /** The definition (`{ name, queue, handler, … }`) this run belongs to; not on the public type. */
  static definitionOf(ctx) {
    return ctx.#def
  }

  /** Aborted when the task is cancelled, times out, or the executor closes. Created on first use. */
  get signal() {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /**
   * In a workflow, the result of the member before this one (which is also the first
   * value of the payload); undefined for a first member or a task outside workflows.
   */
  get previous() {
    return this.#sink.previous(this)
  }

  /** True once the task should stop (cancelled, timed out, executor closing). */
  get shouldStop() {
    return this.#reason !== undefined
  }

  /** The reason the run was aborted, if it was. */
  get abortReason() {
    return this.#reason
  }

  abort(reason) {
    if (this.#reason !== undefined) return
    this.#reason = reason
    if (this.#controller !== null) this.#controller.abort(reason)
  }

  /** The executor's `services` (`new Executor({ services: { db } })`). */
  get services() {
    return this.#sink.services()
  }

  /**
   * Saves `data` (a JSON value) as an artifact of this task, in its store, linked to it
   * and deleted with it: an intermediate result. Resolves to the artifact's id.
   */
  saveArtifact(data, options) {
    try {
      return this.#sink.saveArtifact(this, data, options)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  log(message, level = 'info') {
    checkText(message, 'a log message')
    if (!LEVELS.has(level)) {
      throw new TypeError(`log level must be 'debug', 'info', 'warning' or 'error', got ${describeGiven(level)}`)
    }
    this.#sink.log(this, level === 'warn' ? 'warning' : level, message)
  }

  progress(percent, message) {
    if (typeof percent !== 'number') {
      throw new TypeError(`progress must be a number from 0 to 100, got ${describeGiven(percent)}`)
    }
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
      throw new RangeError(`progress must be a number from 0 to 100, got ${percent}`)
    }
    if (message !== undefined) checkText(message, 'a progress message')
    this.#sink.progress(this, percent, message)
  }

  status(message) {
    checkText(message, 'a status')
    this.#sink.status(this, message)
  }
}

/** Messages are strings: anything else would be stored as '[object Object]'. */
function checkText(value, what) {
  if (typeof value !== 'string') {
    throw new TypeError(`${what} must be a string, got ${describeGiven(value)} (convert it first, e.g. with JSON.stringify or String)`)
  }
}

module.exports = { TaskContext }

'use strict'
// A handle on one task: its id, and async access to its outcome, state and info.

class TaskHandle {
  #executor

  constructor(executor, id) {
    this.#executor = executor
    /** The task's id (a UUID v7). */
    this.id = id
  }

  /** The task's return value once it succeeds; rejects if it fails or is cancelled. */
  result(options) {
    return this.#executor._result(this.id, options)
  }

  /** The task's current state. */
  async state() {
    return this.#executor._state(this.id)
  }

  /** Everything known about the task. */
  async info() {
    return this.#executor._info(this.id)
  }

  /** Cancels the task; resolves to the state it ends up in or is heading to. */
  async cancel() {
    return this.#executor._cancel(this.id)
  }

  toJSON() {
    return { id: this.id }
  }
}

module.exports = { TaskHandle }

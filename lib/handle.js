'use strict'
// A handle on one task: its id, and async access to its outcome, state and info.

const ID_LENGTH = 36

class TaskHandle {
  #executor
  /** The id, or (for a handle from a batch) the batch's concatenated ids… */
  #id
  /** …and this handle's place in them; -1 once `#id` is the id itself. */
  #index
  /** This executor submitted the task (so it exists): awaiting it needs no read at once. */
  #submitted

  constructor(executor, ids, index = -1, submitted = false) {
    this.#executor = executor
    this.#id = ids
    this.#index = index
    this.#submitted = submitted
  }

  /** The task's id (a UUID v7). Handles from `submitMany` cut it from the batch on first use. */
  get id() {
    if (this.#index >= 0) {
      this.#id = this.#id.slice(this.#index * ID_LENGTH, (this.#index + 1) * ID_LENGTH)
      this.#index = -1
    }
    return this.#id
  }

  /** The executor behind this handle (for subclasses). */
  _executor() {
    return this.#executor
  }

  /** The task's return value once it succeeds; rejects if it fails or is cancelled. */
  result(options) {
    return this.#executor._result(this.#id, this.#index, options, this.#submitted)
  }

  /** The task's current state. */
  async state() {
    return this.#executor._state(this.id)
  }

  /** Everything known about the task. */
  async info() {
    return this.#executor._info(this.id)
  }

  /** Cancels the task; resolves true, or false if it had already finished. */
  async cancel() {
    return this.#executor._cancel(this.id)
  }

  toJSON() {
    return { id: this.id }
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `TaskHandle { id: '${this.id}' }`
  }
}

/** A handle on a workflow: its coordinator task, plus its members. */
class WorkflowHandle extends TaskHandle {
  /**
   * Each member in order: `{ member, name, path, id, state }`. A member not started has
   * no id; its state is PENDING, or REVOKED once the workflow is decided without it.
   */
  async members() {
    return this._executor()._members(this.id)
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `WorkflowHandle { id: '${this.id}' }`
  }
}

module.exports = { TaskHandle, WorkflowHandle }

'use strict'
// The error classes users catch. Each carries a stable `code`.

class TaskloomError extends Error {
  constructor(message, options) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A task ended in FAILURE: carries the handler error's type, message and stack. */
class TaskFailedError extends TaskloomError {
  constructor(info) {
    const e = info.error || { type: 'Error', message: 'task failed', stack: null }
    // A workflow (a task named as in lib/workflow.js) has an error naming the member.
    super(
      info.name === 'taskloom-workflow'
        ? `workflow (${info.id}) failed: ${e.message}`
        : `task '${info.name}' (${info.id}) failed: ${e.type}: ${e.message}`,
    )
    this.code = 'ERR_TASK_FAILED'
    this.taskId = info.id
    this.taskName = info.name
    this.errorType = e.type
    this.errorMessage = e.message
    this.errorStack = e.stack ?? null
    this.retries = info.retries ?? 0
  }
}

/** A task was refused without running: its circuit breaker is open (`onOpen: 'fail'`). */
class CircuitOpenError extends TaskFailedError {
  constructor(info) {
    super(info)
    this.code = 'ERR_CIRCUIT_OPEN'
    this.message = `task '${info.name}' (${info.id}) was not run: its circuit breaker is open`
  }
}

/** A task was cancelled (REVOKED). */
class TaskCancelledError extends TaskloomError {
  constructor(info) {
    super(info.name === 'taskloom-workflow' ? `workflow (${info.id}) was cancelled` : `task '${info.name}' (${info.id}) was cancelled`)
    this.code = 'ERR_TASK_CANCELLED'
    this.taskId = info.id
    this.taskName = info.name
  }
}

/** Waiting for a result took longer than the `timeoutMs` given to `result()`. */
class TimeoutError extends TaskloomError {
  constructor(id, timeoutMs) {
    super(`no result for task ${id} within ${timeoutMs} ms`)
    this.code = 'ERR_RESULT_TIMEOUT'
    this.taskId = id
    this.timeoutMs = timeoutMs
  }
}

/** A handler ran longer than its task's `timeoutMs`; the reason `ctx.signal` aborts with. */
class TaskTimeoutError extends TaskloomError {
  constructor(name, timeoutMs) {
    super(`task '${name}' exceeded its timeout of ${timeoutMs} ms`)
    this.code = 'ERR_TASK_TIMEOUT'
    this.timeoutMs = timeoutMs
  }
}

/** Throw this from a handler to fail the task at once, without retries. */
class NonRetryableError extends TaskloomError {
  constructor(message, options) {
    super(message, options)
    this.code = 'ERR_NON_RETRYABLE'
  }
}

/**
 * A workflow member failed or was cancelled: the workflow fails with this (no retries).
 * `member` says which: `{ member, path, name, id }`.
 */
class WorkflowError extends NonRetryableError {
  constructor(message, member) {
    super(message)
    this.code = 'ERR_WORKFLOW'
    this.member = member
  }
}

/** The executor was closed: no more submits, and waiters for unfinished tasks give up. */
class ExecutorClosedError extends TaskloomError {
  constructor(message = 'the executor is closed') {
    super(message)
    this.code = 'ERR_EXECUTOR_CLOSED'
  }
}

/** No task with that id exists in the store. */
class TaskNotFoundError extends TaskloomError {
  constructor(message) {
    super(message)
    this.code = 'ERR_TASK_NOT_FOUND'
  }
}

/** Rethrows a native error as the class its code names, keeping the message. */
function fromNative(err) {
  switch (err && err.code) {
    case 'ERR_TASKLOOM_INVALID': {
      const e = new TypeError(err.message)
      e.code = 'ERR_INVALID_ARG'
      return e
    }
    case 'ERR_TASKLOOM_UNKNOWN_TASK': {
      const e = new TypeError(err.message)
      e.code = 'ERR_UNKNOWN_TASK'
      return e
    }
    case 'ERR_TASKLOOM_DUPLICATE_TASK': {
      const e = new Error(err.message)
      e.code = 'ERR_DUPLICATE_TASK'
      return e
    }
    case 'ERR_TASKLOOM_PARAMS':
      return new ParamsError(JSON.parse(err.message))
    case 'ERR_TASKLOOM_NOT_FOUND':
      return new TaskNotFoundError(err.message)
    case 'ERR_TASKLOOM_STATE':
      return new TaskStateError(err.message)
    case 'ERR_TASKLOOM_CLOSED':
      return new ExecutorClosedError()
    case 'ERR_TASKLOOM_STORE':
      return new StoreError(err.message)
    default:
      return err
  }
}

/** The `{ type, message, stack }` record of anything a handler threw. */
function describeThrown(value) {
  if (value instanceof Error) {
    return { type: value.name || value.constructor?.name || 'Error', message: String(value.message), stack: value.stack ?? null }
  }
  if (value === null || value === undefined) return { type: String(value), message: String(value), stack: null }
  if (typeof value === 'object') {
    let message
    try { message = JSON.stringify(value) } catch { message = String(value) }
    return { type: value.constructor?.name || 'Object', message: message ?? String(value), stack: null }
  }
  return { type: typeof value, message: String(value), stack: null }
}

/** The store failed: it cannot be opened (bad path, corrupt or foreign file), or a write failed. */
class StoreError extends TaskloomError {
  constructor(message) {
    super(message)
    this.code = 'ERR_STORE'
  }
}

/**
 * Workers sharing a durable store define one task differently (another queue, retry
 * policy, timeout…): reported as an `'error'` event; `ex.info(name).conflicts` says what differs.
 */
class DefinitionConflictError extends TaskloomError {
  constructor(message) {
    super(message)
    this.code = 'ERR_DEFINITION_CONFLICT'
  }
}

/**
 * The task's state does not allow the action: retrying a task that did not fail or was
 * not cancelled, removing one that has not finished. Nothing changed.
 */
class TaskStateError extends TaskloomError {
  constructor(message) {
    super(message)
    this.code = 'ERR_TASK_STATE'
  }
}

/**
 * A payload that its task's `params` (JSON Schema) refuses; nothing was enqueued.
 * `issues` lists each problem: `{ path, message }`, `path` a JSON pointer into the payload.
 */
class ParamsError extends TypeError {
  constructor({ message, task, issues }) {
    super(message)
    this.name = 'ParamsError'
    this.code = 'ERR_INVALID_PARAMS'
    this.task = task
    this.issues = issues
  }
}

module.exports = {
  TaskloomError,
  ParamsError,
  TaskStateError,
  StoreError,
  DefinitionConflictError,
  TaskFailedError,
  CircuitOpenError,
  TaskCancelledError,
  TimeoutError,
  TaskTimeoutError,
  NonRetryableError,
  WorkflowError,
  ExecutorClosedError,
  TaskNotFoundError,
  fromNative,
  describeThrown,
}

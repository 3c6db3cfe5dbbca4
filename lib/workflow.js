'use strict'
// Workflows in JS: the builders (`sig`, `chain`, `group`, `chord`) and the coordinator
// that drives one workflow. The coordinator decides nothing itself: the engine's plan
// (crates/engine/src/workflow.rs) says which members start and when the workflow is
// decided; this loop starts them, waits for them and reports their outcomes back.

const { TaskFailedError, TaskCancelledError, WorkflowError } = require('./errors.js')

/** The task name (and queue) of workflow coordinators. */
const WORKFLOW_TASK = 'taskloom-workflow'

/** A signature: task `name` with its `payload` and submit `options` (priority, delayMs, runAt). */
function sig(name, payload, options) {
  if (typeof name !== 'string') throw new TypeError(`sig() expects a task name (string), got ${typeof name}`)
  const s = { sig: name }
  if (payload !== undefined) s.payload = payload
  if (options !== undefined) s.options = options
  return s
}

/** Members as varargs or one array. */
function list(kind, args) {
  const members = args.length === 1 && Array.isArray(args[0]) ? args[0] : args
  for (let i = 0; i < members.length; i++) {
    if (!isWorkflow(members[i])) {
      throw new TypeError(`${kind}() member ${i + 1} is not a signature or workflow (use sig(name, payload))`)
    }
  }
  return members
}

/** Runs its steps one after another; each gets the previous step's result prepended to its arguments. */
function chain(...steps) {
  return { chain: list('chain', steps) }
}

/** Runs its members at once; the result lists theirs, in order. */
function group(...members) {
  return { group: list('group', members) }
}

/** Runs `header` as a group, then `body` with the list of the header's results. */
function chord(header, body) {
  if (!Array.isArray(header)) throw new TypeError('chord() expects a list of header members first')
  if (!isWorkflow(body)) throw new TypeError('chord() expects a callback signature second (sig(name))')
  return { chord: list('chord', header), body }
}

function isWorkflow(x) {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && ('sig' in x || 'chain' in x || 'group' in x || 'chord' in x)
}

/** The coordinator was stopped (its executor closed); it runs again elsewhere or later. */
class WorkflowInterruptedError extends Error {
  constructor(message) {
    super(message)
    this.name = 'WorkflowInterruptedError'
  }
}

/**
 * Drives one workflow to its verdict. `ex` submits members (under the keys the plan
 * gives, so that a re-run finds the members a previous run started); `plan(outcomes)`
 * asks the engine what follows.
 */
async function coordinate(ex, plan, ctx) {
  /** Outcome rows by member: [member, 'R'] | [member, 'S', result] | [member, 'F', id, state, message]. */
  const outcomes = new Map()
  const handles = new Map()
  let wake = null
  let trouble = null
  const notify = () => {
    if (wake !== null) wake()
  }
  const onAbort = () => notify()
  ctx.signal.addEventListener('abort', onAbort)
  try {
    for (;;) {
      if (ctx.signal.aborted) throw await stopped(ctx, handles, outcomes)
      if (trouble !== null) throw new WorkflowInterruptedError(`a member could not be awaited: ${trouble.message}`)
      const next = plan([...outcomes.values()])
      if (next.spawn.length > 0) {
        const started = await Promise.all(next.spawn.map((s) => ex.submit(s.name, s.payload, { ...s.options, key: s.key })))
        next.spawn.forEach((s, i) => {
          const h = started[i]
          outcomes.set(s.member, [s.member, 'R'])
          handles.set(s.member, h)
          h.result().then(
            (value) => {
              outcomes.set(s.member, [s.member, 'S', value])
              notify()
            },
            (err) => {
              if (err instanceof TaskCancelledError) outcomes.set(s.member, [s.member, 'F', h.id, 'REVOKED', err.message])
              else if (err instanceof TaskFailedError) {
                outcomes.set(s.member, [s.member, 'F', h.id, 'FAILURE', `${err.errorType}: ${err.errorMessage}`])
              } else trouble = err
              notify()
            },
          )
        })
        continue
      }
      const v = next.verdict
      if (v !== null) {
        if (v.ok) return v.result
        const member = { member: v.member, id: handles.get(v.member)?.id ?? null }
        throw new WorkflowError(v.message, member)
      }
      await new Promise((resolve) => {
        wake = resolve
      })
      wake = null
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The coordinator's signal aborted. A cancel of the workflow cancels every member that
 * has not finished; the executor closing leaves them be (the workflow goes on later).
 */
async function stopped(ctx, handles, outcomes) {
  const reason = ctx.signal.reason
  if (!(reason instanceof TaskCancelledError)) {
    return new WorkflowInterruptedError(`the coordinator stopped (${reason?.message ?? reason}); the workflow goes on in its next run`)
  }
  const unfinished = [...handles].filter(([m]) => outcomes.get(m)?.[1] === 'R').map(([, h]) => h)
  await Promise.all(unfinished.map((h) => h.cancel().catch(() => false)))
  return reason
}

module.exports = { WORKFLOW_TASK, sig, chain, group, chord, isWorkflow, coordinate, WorkflowInterruptedError }

'use strict'
// The coordinator that drives one workflow. It decides nothing itself: the engine's plan
// (crates/engine/src/workflow.rs) says which members start and when the workflow is
// decided; this loop starts them, waits for them and reports their outcomes back.

const { TaskFailedError, TaskCancelledError, WorkflowError } = require('./errors.js')

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
      if (ctx.signal.aborted) throw await stopped(ex, ctx, handles, outcomes)
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
  } catch (err) {
    // Anything but the workflow's own verdict or cancel (the store failed, the executor
    // closed) stops this run only: the coordinator runs again and picks up.
    if (err instanceof WorkflowError || err instanceof TaskCancelledError || err instanceof WorkflowInterruptedError) throw err
    throw new WorkflowInterruptedError(`the coordinator stopped: ${err?.message ?? err}`)
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The coordinator's signal aborted. A cancel of the workflow cancels every member that
 * has not finished; the executor closing leaves them be (the workflow goes on later).
 */
async function stopped(ex, ctx, handles, outcomes) {
  const reason = ctx.signal.reason
  if (!(reason instanceof TaskCancelledError)) {
    return new WorkflowInterruptedError(`the coordinator stopped (${reason?.message ?? reason}); the workflow goes on in its next run`)
  }
  // Every member started so far, by its key: this run's, and those of an earlier run
  // (a coordinator cancelled while its worker was dead starts aborted, knowing none).
  const members = await ex._members(ctx.id).catch(() => [])
  const ids = new Set(members.filter((m) => m.id !== null).map((m) => m.id))
  for (const [m, h] of handles) if (outcomes.get(m)?.[1] === 'R') ids.add(h.id)
  await Promise.all([...ids].map((id) => ex.task(id).cancel().catch(() => false)))
  return reason
}

module.exports = { coordinate, WorkflowInterruptedError }

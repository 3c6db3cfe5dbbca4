'use strict'
// What the HTTP API shows: chapkit's shapes (TaskInfo, job record, artifact), built
// from taskloom's task definitions and task infos, with what chapkit leaves out added.

/** taskloom's states as chapkit's job statuses. */
const STATUS_OF = {
  PENDING: 'pending',
  RECEIVED: 'pending',
  RETRY: 'pending',
  STARTED: 'running',
  SUCCESS: 'completed',
  FAILURE: 'failed',
  REVOKED: 'canceled',
}

/** `?status_filter=` → the taskloom state to list. */
const STATE_OF = { pending: 'PENDING', running: 'STARTED', completed: 'SUCCESS', failed: 'FAILURE', canceled: 'REVOKED' }

const FINISHED = new Set(['SUCCESS', 'FAILURE', 'REVOKED'])

function iso(date) {
  return date == null ? null : date.toISOString()
}

/** A registry entry: chapkit's TaskInfo, plus queue and the JSON Schema of its params. */
function taskView(def) {
  return {
    name: def.name,
    docstring: def.description ?? null,
    signature: def.signature,
    parameters: def.parameters.map((p) => ({
      name: p.name,
      annotation: p.annotation,
      default: p.default,
      required: p.required,
      ...(p.description === undefined ? {} : { description: p.description }),
    })),
    tags: def.tags,
    queue: def.queue,
    params: def.params ?? null,
  }
}

/** A job record: chapkit's keys, and the result, its artifact and taskloom's detail. */
function jobView(info) {
  const finished = FINISHED.has(info.state)
  return {
    id: info.id,
    status: STATUS_OF[info.state],
    submitted_at: iso(info.createdAt),
    started_at: iso(info.startedAt),
    finished_at: finished ? iso(info.completedAt) : null,
    error: info.error?.message ?? null,
    error_type: info.error?.type ?? null,
    error_traceback: info.error?.stack ?? null,
    result: info.state === 'SUCCESS' ? info.result : null,
    artifact_id: finished ? info.id : null,
    task_name: info.name,
    queue: info.queue,
    state: info.state,
    attempt: info.attempt,
    progress: info.progress ?? null,
    progress_message: info.progressMessage ?? null,
    status_message: info.status ?? null,
  }
}

/**
 * The job's own artifact (id = the job's id), once it finished: chapkit's
 * `{ task_name, params, result, error }` as `data`.
 */
function resultArtifactView(info) {
  const at = iso(info.completedAt)
  return {
    id: info.id,
    created_at: at,
    updated_at: at,
    tags: [],
    data: {
      task_name: info.name,
      params: info.payload,
      result: info.state === 'SUCCESS' ? info.result : null,
      error: info.error == null ? null : { type: info.error.type, message: info.error.message, traceback: info.error.stack ?? null },
    },
    parent_id: null,
    level: 0,
  }
}

/** An artifact a task saved with ctx.saveArtifact: a child of the job's artifact. */
function savedArtifactView(a) {
  const at = a.createdAt.toISOString()
  return { id: a.id, created_at: at, updated_at: at, tags: a.tags, data: a.data, parent_id: a.taskId, level: 1 }
}

module.exports = { STATUS_OF, STATE_OF, FINISHED, taskView, jobView, resultArtifactView, savedArtifactView }

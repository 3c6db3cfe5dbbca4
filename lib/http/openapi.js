'use strict'
// The OpenAPI 3.1 document of the HTTP API, served at /api/v1/openapi.json. It says what
// routes.js does: schemathesis checks the two against each other in CI.

const { version } = require('../../package.json')

const ref = (name) => ({ $ref: `#/components/schemas/${name}` })
const json = (schema) => ({ 'application/json': { schema } })
const answer = (description, schema) => (schema === undefined ? { description } : { description, content: json(schema) })
const problem = (description) => answer(description, ref('Problem'))
const NAME = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' }
const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
const UUID = { type: 'string', pattern: UUID_PATTERN }
const time = { type: ['string', 'null'], format: 'date-time' }
const any = {}
/** `$execute` options (the queue, if given, must be the task's). */
const SUBMIT_OPTIONS = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    priority: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
    delayMs: { type: 'integer', minimum: 0, maximum: 4000000000000000, description: 'Run it this many ms from now' },
    key: { type: 'string', minLength: 1, description: 'An idempotency key: a second $execute with it answers the first job' },
  },
}

const jobId = { name: 'id', in: 'path', required: true, schema: UUID, description: 'The job id (a UUID)' }
const taskName = { name: 'name', in: 'path', required: true, schema: NAME }
const common = { 401: problem('No valid bearer token'), 404: problem('Not found (also a path parameter that is not well-formed)'), 500: problem('An internal error (logged with the request id)'), 503: problem('The store is unavailable') }
const withId = { 400: problem('Not a job id'), ...common, 404: problem('No such job') }

/** One `$execute` operation per registered task, its body's `params` being the task's schema. */
function executePaths(tasks) {
  const options = (t) => ({ ...SUBMIT_OPTIONS, properties: { ...SUBMIT_OPTIONS.properties, queue: { const: t.queue } } })
  const paths = {}
  for (const t of tasks) {
    const needed = Array.isArray(t.params?.required) && t.params.required.length > 0
    const params = t.params == null ? { type: ['object', 'null'] } : needed ? t.params : { anyOf: [t.params, { type: 'null' }] }
    paths[`/api/v1/tasks/${t.name}/$execute`] = {
      post: {
        operationId: `execute_${t.name}`,
        summary: t.description ?? undefined,
        tags: t.tags,
        requestBody: {
          required: needed,
          content: json({ type: 'object', additionalProperties: false, properties: { params, options: options(t) }, ...(needed ? { required: ['params'] } : {}) }),
        },
        responses: {
          202: answer('Submitted', ref('ExecuteResponse')),
          400: answer('The params do not match the task\'s schema, or the body is malformed', ref('ParamsProblem')),
          413: problem('The body is too large'),
          415: problem('The body is not JSON'),
          ...common,
        },
      },
    }
  }
  return paths
}

/** The document for the tasks registered (or published to the store) right now. */
function openapiDocument(tasks, storeKind, base = '') {
  // A page cursor: a sequence number on SQLite and Redis, a task id in memory.
  const cursor = { type: 'string', pattern: storeKind === 'memory' ? UUID_PATTERN : '^[0-9]{1,15}$' }
  return {
    openapi: '3.1.0',
    ...(base === '' ? {} : { servers: [{ url: base }] }),
    info: { title: 'taskloom', version, description: 'Task registry, jobs and artifacts of a taskloom executor, and the management of its store.' },
    security: [{ bearer: [] }],
    paths: {
      '/health': { get: { operationId: 'health', security: [], responses: { 200: answer('The store answers', ref('Health')), 500: common[500], 503: common[503] } } },
      '/metrics': { get: { operationId: 'metrics', responses: { 200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: { type: 'string' } } } }, ...common } } },
      '/api/v1/tasks': {
        get: {
          operationId: 'listTasks',
          parameters: [{ name: 'tags', in: 'query', required: false, schema: { type: 'string' }, description: 'Comma-separated: tasks carrying every one' }],
          responses: { 200: answer('Registered tasks, by name', { type: 'array', items: ref('TaskInfo') }), 400: problem('Unknown query parameter'), ...common },
        },
      },
      '/api/v1/tasks/{name}': {
        get: { operationId: 'getTask', parameters: [taskName], responses: { 200: answer('One task', ref('TaskInfo')), 404: problem('No such task'), ...common } },
      },
      ...executePaths(tasks),
      '/api/v1/jobs': {
        get: {
          operationId: 'listJobs',
          parameters: [
            { name: 'status_filter', in: 'query', schema: { enum: ['pending', 'running', 'completed', 'failed', 'canceled'] } },
            { name: 'state', in: 'query', schema: ref('State') },
            { name: 'task_name', in: 'query', schema: NAME },
            { name: 'queue', in: 'query', schema: NAME },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
            { name: 'cursor', in: 'query', schema: cursor, description: 'From the previous page\'s x-next-cursor header (with the same order)' },
            { name: 'order', in: 'query', schema: { enum: ['oldest', 'newest'], default: 'oldest' } },
          ],
          responses: { 200: answer('A page of jobs, oldest (or newest) first', { type: 'array', items: ref('Job') }), 400: problem('A bad filter or cursor'), ...common },
        },
      },
      '/api/v1/jobs/$clean': {
        post: {
          operationId: 'cleanJobs',
          requestBody: { required: false, content: json(ref('CleanFilter')) },
          responses: { 200: answer('How many finished jobs were deleted', { type: 'object', required: ['removed'], properties: { removed: { type: 'integer' } } }), 400: problem('A bad filter'), 413: problem('Too large'), 415: problem('Not JSON'), ...common },
        },
      },
      '/api/v1/jobs/{id}': {
        get: { operationId: 'getJob', parameters: [jobId], responses: { 200: answer('The job', ref('Job')), ...withId } },
        delete: { operationId: 'cancelJob', parameters: [jobId], responses: { 204: { description: 'Cancelled; the job stays readable as canceled' }, 409: problem('Already finished'), ...withId } },
      },
      '/api/v1/jobs/{id}/$stream': {
        get: {
          operationId: 'streamJob',
          parameters: [jobId, { name: 'poll_interval', in: 'query', schema: { type: 'number', minimum: 0.05, maximum: 60 } }],
          responses: {
            200: {
              description: 'Server-sent events: `data: <Job>` on every change until the job is terminal',
              content: { 'text/event-stream': { schema: { type: 'object', required: ['data'], properties: { data: { type: 'string', contentMediaType: 'application/json', contentSchema: ref('Job') }, event: { type: 'string' } } } } },
            },
            ...withId,
          },
        },
      },
      '/api/v1/jobs/{id}/$retry': {
        post: { operationId: 'retryJob', parameters: [jobId], responses: { 202: answer('Waiting to run again', ref('Job')), 409: problem('Not failed or cancelled'), ...withId } },
      },
      '/api/v1/jobs/{id}/$remove': {
        post: { operationId: 'removeJob', parameters: [jobId], responses: { 204: { description: 'Deleted with its logs and artifacts' }, 409: problem('Not finished'), ...withId } },
      },
      '/api/v1/artifacts': {
        get: {
          operationId: 'listArtifacts',
          parameters: [{ name: 'task', in: 'query', required: true, schema: UUID, description: 'The job id' }],
          responses: { 200: answer('The job\'s result artifact (once finished) and the artifacts it saved', { type: 'array', items: ref('Artifact') }), ...withId },
        },
      },
      '/api/v1/artifacts/{id}': {
        get: {
          operationId: 'getArtifact',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: `${UUID_PATTERN.slice(0, -1)}(\\.[1-9][0-9]{0,8})?$` }, description: 'A job id (its result), or <job id>.<n>' }],
          responses: { 200: answer('The artifact', ref('Artifact')), 400: problem('Not an artifact id'), 404: problem('No such artifact'), ...common },
        },
      },
      '/api/v1/counts': { get: { operationId: 'counts', responses: { 200: answer('Tasks per state, in total and per queue', ref('Counts')), ...common } } },
      '/api/v1/queues': { get: { operationId: 'queues', responses: { 200: answer('Queues with their counts', { type: 'array', items: ref('Queue') }), ...common } } },
      '/api/v1/queues/{name}/$pause': { post: queueOp('pauseQueue', 'Paused: running tasks finish, nothing new starts', ref('Queue')) },
      '/api/v1/queues/{name}/$resume': { post: queueOp('resumeQueue', 'Resumed', ref('Queue')) },
      '/api/v1/queues/{name}/$drain': { post: queueOp('drainQueue', 'Its waiting tasks deleted', { type: 'object', required: ['drained'], properties: { drained: { type: 'integer' } } }) },
      '/api/v1/schedules': { get: { operationId: 'schedules', responses: { 200: answer('Cron schedules', { type: 'array', items: ref('Schedule') }), ...common } } },
      '/api/v1/schedules/{id}/$pause': { post: scheduleOp('pauseSchedule') },
      '/api/v1/schedules/{id}/$resume': { post: scheduleOp('resumeSchedule') },
      '/api/v1/openapi.json': { get: { operationId: 'openapi', responses: { 200: answer('This document', { type: 'object' }), ...common } } },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: { type: 'object', required: ['detail'], properties: { detail: { type: 'string' }, request_id: { type: 'string' } } },
        ParamsProblem: {
          type: 'object',
          required: ['detail'],
          properties: { detail: { type: 'string' }, errors: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } } },
        },
        Health: { type: 'object', required: ['status'], properties: { status: { const: 'healthy' }, checks: { type: 'object' } } },
        State: { enum: ['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS', 'FAILURE', 'RETRY', 'REVOKED'] },
        TaskInfo: {
          type: 'object',
          required: ['name', 'docstring', 'signature', 'parameters', 'tags'],
          properties: {
            name: { type: 'string' },
            docstring: { type: ['string', 'null'] },
            signature: { type: 'string' },
            parameters: {
              type: 'array',
              items: { type: 'object', required: ['name', 'annotation', 'default', 'required'], properties: { name: { type: 'string' }, annotation: { type: 'string' }, default: any, required: { type: 'boolean' }, description: { type: 'string' } } },
            },
            tags: { type: 'array', items: { type: 'string' } },
            queue: { type: 'string' },
            params: { description: 'The JSON Schema of the payload, or null' },
          },
        },
        ExecuteResponse: { type: 'object', required: ['job_id', 'message'], properties: { job_id: UUID, message: { type: 'string' } } },
        Job: {
          type: 'object',
          required: ['id', 'status', 'submitted_at', 'started_at', 'finished_at', 'error', 'error_traceback', 'result', 'artifact_id', 'task_name', 'state'],
          properties: {
            id: UUID,
            status: { enum: ['pending', 'running', 'completed', 'failed', 'canceled'] },
            submitted_at: time,
            started_at: time,
            finished_at: time,
            error: { type: ['string', 'null'] },
            error_type: { type: ['string', 'null'] },
            error_traceback: { type: ['string', 'null'] },
            result: any,
            artifact_id: { type: ['string', 'null'] },
            task_name: { type: 'string' },
            queue: { type: 'string' },
            state: ref('State'),
            attempt: { type: 'integer' },
            progress: { type: ['number', 'null'] },
            progress_message: { type: ['string', 'null'] },
            status_message: { type: ['string', 'null'] },
          },
        },
        Artifact: {
          type: 'object',
          required: ['id', 'created_at', 'updated_at', 'tags', 'data', 'parent_id', 'level'],
          properties: {
            id: { type: 'string' },
            created_at: time,
            updated_at: time,
            tags: { type: 'array', items: { type: 'string' } },
            data: any,
            parent_id: { type: ['string', 'null'] },
            level: { type: 'integer' },
          },
        },
        CleanFilter: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { oneOf: [{ enum: ['SUCCESS', 'FAILURE', 'REVOKED'] }, { type: 'array', minItems: 1, items: { enum: ['SUCCESS', 'FAILURE', 'REVOKED'] } }] },
            olderThanMs: { type: 'integer', minimum: 0, maximum: 3153600000000 },
            name: NAME,
            queue: NAME,
            limit: { type: 'integer', minimum: 1, maximum: 1000000000 },
          },
        },
        Counts: { type: 'object', required: ['total', 'queues'], properties: { total: { type: 'object' }, queues: { type: 'object' } } },
        Queue: { type: 'object', required: ['name', 'paused', 'counts'], properties: { name: { type: 'string' }, paused: { type: 'boolean' }, counts: { type: 'object' } } },
        Schedule: { type: 'object', required: ['id', 'name', 'cron'], properties: { id: { type: 'string' }, name: { type: 'string' }, cron: { type: 'string' } } },
      },
    },
  }
}

function queueOp(operationId, description, schema) {
  return { operationId, parameters: [{ name: 'name', in: 'path', required: true, schema: NAME }], responses: { 200: answer(description, schema), ...common } }
}

function scheduleOp(operationId) {
  return {
    operationId,
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
    responses: { 200: answer('The schedule', ref('Schedule')), 404: problem('No such schedule'), ...common },
  }
}

module.exports = { openapiDocument }

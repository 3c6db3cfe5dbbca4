'use strict'
// The workflow builders users call: `sig`, `chain`, `group`, `chord`. They build plain
// JSON specs; a workflow runs as a coordinator task (lib/coordinator.js).

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

module.exports = { WORKFLOW_TASK, sig, chain, group, chord, isWorkflow }

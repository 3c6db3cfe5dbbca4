'use strict'
// Checks of JS-side option shapes and conversions (Date / ISO 8601 → ms) before the
// engine validates the values themselves.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function checkObject(value, what) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`)
  }
}

/**
 * Options cross to the engine as JSON, where Infinity and NaN would turn into null and
 * silently mean "not given". Rejects them here, naming the option.
 */
function rejectNonFinite(value, path) {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`\`${path}\` must be a finite number, got ${value}`)
    return
  }
  if (value === null || typeof value !== 'object' || value instanceof Date) return
  for (const key of Object.keys(value)) rejectNonFinite(value[key], path === '' ? key : `${path}.${key}`)
}

/** undefined, or a non-negative finite number of ms. */
function checkTimeoutOption(value, what) {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative number of milliseconds, got ${String(value)}`)
  }
  return value
}

/** A `runAt` (Date, ISO 8601 string or ms since the epoch) as ms since the epoch. */
function runAtMs(runAt) {
  if (runAt instanceof Date) {
    const ms = runAt.getTime()
    if (Number.isNaN(ms)) throw new TypeError('`runAt` is an invalid Date')
    return ms
  }
  if (typeof runAt === 'string') {
    if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(runAt)) {
      throw new TypeError(`\`runAt\` '${runAt}' is not an ISO 8601 date`)
    }
    const ms = Date.parse(runAt)
    if (Number.isNaN(ms)) throw new TypeError(`\`runAt\` '${runAt}' is not a valid date`)
    return ms
  }
  if (typeof runAt === 'number') return runAt // the engine checks range
  throw new TypeError(`\`runAt\` must be a Date, an ISO 8601 string or ms since the epoch, got ${typeof runAt}`)
}

/** The JSON the engine reads for submit options ('' for none). */
function submitOptionsJson(options) {
  if (options === undefined) return ''
  checkObject(options, 'submit options')
  rejectNonFinite(options, '')
  if (options.runAt === undefined) return JSON.stringify(options)
  return JSON.stringify({ ...options, runAt: runAtMs(options.runAt) })
}

module.exports = { UUID, checkObject, checkTimeoutOption, rejectNonFinite, submitOptionsJson }

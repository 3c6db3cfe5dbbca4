'use strict'
// Checks of JS-side option shapes and conversions (Date / ISO 8601 → ms) before the
// engine validates the values themselves.

const { currentTraceparent } = require('./tracing.js')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function checkObject(value, what) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`)
  }
}

/** Rejects keys of `options` not in `allowed`, naming the first (a typo must not be ignored). */
function checkKeys(options, allowed, what) {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`unknown ${what} option '${key}' (expected ${allowed.join(', ')})`)
    }
  }
}

/** A value as an error message shows what was given: `the string '50'`, `an object`, `null`. */
function describeGiven(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value)}`
    case 'number':
    case 'boolean':
    case 'bigint':
      return `the ${typeof value} ${String(value)}`
    case 'undefined':
      return 'undefined'
    case 'object':
      return `an object (${value.constructor?.name ?? 'no prototype'})`
    default:
      return `a ${typeof value}`
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** Whether an ISO 8601 string names a real calendar date and time (no Feb 30, no 24:61). */
function isRealDate(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(text)
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)))
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59
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
    // Date.parse rolls '2026-02-30' over to March 2: a date that does not exist is refused.
    if (Number.isNaN(ms) || !isRealDate(runAt)) throw new TypeError(`\`runAt\` '${runAt}' is not a valid date`)
    return ms
  }
  if (typeof runAt === 'number') return runAt // the engine checks range
  throw new TypeError(`\`runAt\` must be a Date, an ISO 8601 string or ms since the epoch, got ${typeof runAt}`)
}

/** The JSON the engine reads for submit options ('' for none). */
function submitOptionsJson(options) {
  // Tracing: the span active at submit becomes the parent of the run's span.
  const traceparent = (options === undefined || options.traceparent === undefined) ? currentTraceparent() : undefined
  if (options === undefined) return traceparent === undefined ? '' : JSON.stringify({ traceparent })
  checkObject(options, 'submit options')
  rejectNonFinite(options, '')
  if (options.runAt === undefined && traceparent === undefined) return JSON.stringify(options)
  const out = { ...options }
  if (options.runAt !== undefined) out.runAt = runAtMs(options.runAt)
  if (traceparent !== undefined) out.traceparent = traceparent
  return JSON.stringify(out)
}

module.exports = { UUID, checkObject, checkKeys, checkTimeoutOption, describeGiven, rejectNonFinite, submitOptionsJson }

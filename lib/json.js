'use strict'
// Payloads and results are JSON values. JSON.stringify silently drops functions and
// symbols, so values are checked first and a non-JSON value is rejected with its path.
// The check has an allocation-free fast path; only a failing value pays for the path.

const MAX_FAST_DEPTH = 64

/** True if `value` is plainly JSON (no function, symbol, BigInt; shallow enough to rule out cycles). */
function isPlainJson(value, depth) {
  const t = typeof value
  if (t !== 'object') return t !== 'function' && t !== 'symbol' && t !== 'bigint'
  if (value === null || typeof value.toJSON === 'function') return true
  if (depth > MAX_FAST_DEPTH) return false // maybe a cycle: let the slow path decide
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false
    return true
  }
  for (const key in value) {
    if (Object.hasOwn(value, key) && !isPlainJson(value[key], depth + 1)) return false
  }
  return true
}

/** Returns a description of the first non-JSON part of `value`, or null. */
function findNonJson(value, path, ancestors) {
  const t = typeof value
  if (t === 'function' || t === 'symbol' || t === 'bigint') return `${path.join('')} is a ${t}`
  if (t !== 'object' || value === null) return null
  if (typeof value.toJSON === 'function') return null // Date and friends serialize themselves
  if (ancestors.includes(value)) return `${path.join('')} is a circular reference`
  ancestors.push(value)
  let found = null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && !found; i++) {
      path.push(`[${i}]`)
      found = findNonJson(value[i], path, ancestors)
      path.pop()
    }
  } else {
    for (const key of Object.keys(value)) {
      if (found) break
      path.push(/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)
      found = findNonJson(value[key], path, ancestors)
      path.pop()
    }
  }
  ancestors.pop()
  return found
}

/**
 * The JSON text of `value` (`undefined` becomes null), or a TypeError saying where it
 * is not JSON. `what` names the value in that error, whose `problem` says where.
 */
function toJsonText(value, what, root = 'value') {
  if (value === undefined || value === null) return 'null'
  if (isPlainJson(value, 0)) return JSON.stringify(value) ?? 'null'
  const problem = findNonJson(value, [root], [])
  if (problem === null) return JSON.stringify(value) ?? 'null' // deep but acyclic
  throw Object.assign(new TypeError(`${what} is not JSON: ${problem}`), { problem })
}

module.exports = { toJsonText }

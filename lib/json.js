'use strict'
// Payloads and results are JSON values. JSON.stringify silently drops functions and
// symbols, so values are checked first and a non-JSON value is rejected with its path.

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
      const v = value[i]
      if (typeof v === 'object' || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
        path.push(`[${i}]`)
        found = findNonJson(v, path, ancestors)
        path.pop()
      }
    }
  } else {
    for (const key of Object.keys(value)) {
      const v = value[key]
      if (v === undefined) continue // JSON.stringify omits it, as JSON has no undefined
      if (typeof v === 'object' || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
        path.push(/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)
        found = findNonJson(v, path, ancestors)
        path.pop()
      }
    }
  }
  ancestors.pop()
  return found
}

/**
 * The JSON text of `value`, or a TypeError naming where it is not JSON.
 * `undefined` becomes null.
 */
function toJsonText(value, what, root = 'value') {
  switch (typeof value) {
    case 'undefined':
      return 'null'
    case 'number':
    case 'boolean':
    case 'string':
      return JSON.stringify(value)
    default: {
      const problem = findNonJson(value, [root], [])
      if (problem) throw new TypeError(`${what} is not JSON: ${problem}`)
      const text = JSON.stringify(value)
      return text === undefined ? 'null' : text
    }
  }
}

module.exports = { toJsonText }

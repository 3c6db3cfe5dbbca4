'use strict'
// Payloads and results are JSON values, carried as JSON text end to end (the engine never
// parses them), so what JSON.parse gives back is what JSON.stringify was given. Values JSON
// cannot hold are refused with their path instead of being coerced the way JSON.stringify
// would (NaN → null, a Map → {}, a function dropped). The check has an allocation-free
// fast path; only a failing value pays for working out the path.

/** Deepest nesting of arrays and objects a payload or result may have. */
const MAX_DEPTH = 1000

const OBJECT_PROTO = Object.prototype

/** True if `value` is plainly JSON: the fast path (false sends it to `findNonJson`). */
function isPlainJson(value, depth) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'object':
      break
    default:
      return false // undefined (as an array element), function, symbol, bigint
  }
  if (value === null) return true
  if (depth >= MAX_DEPTH) return false // too deep, or a cycle: the slow path says which
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== OBJECT_PROTO && proto !== null) return false // Date, Map, class instances…
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const v = value[key]
    // JSON.stringify leaves out properties that are undefined: so does the store.
    if (v !== undefined && !isPlainJson(v, depth + 1)) return false
  }
  return true
}

/** What kind of non-plain object `value` is, for an error message. */
function kindOf(value) {
  if (value instanceof Map) return 'a Map'
  if (value instanceof Set) return 'a Set'
  if (ArrayBuffer.isView(value)) return `a ${value.constructor?.name ?? 'typed array'}`
  if (value instanceof ArrayBuffer) return 'an ArrayBuffer'
  const name = value.constructor?.name
  return name ? `an instance of ${name} (give it a toJSON() method)` : 'an object with a foreign prototype'
}

/**
 * A description of the first part of `value` that JSON cannot hold exactly, or null.
 * `path` is the way there (`payload.items[2]`), `ancestors` the objects above (cycles).
 */
function findNonJson(value, path, ancestors, key) {
  // A path hundreds of levels deep is shown by its ends.
  const where = () => (path.length > 12 ? `${path.slice(0, 6).join('')}…${path.slice(-4).join('')}` : path.join(''))
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null
    case 'number':
      return Number.isFinite(value) ? null : `${where()} is ${value} (JSON has no NaN or Infinity)`
    case 'undefined':
      return `${where()} is undefined (JSON has no undefined; use null)`
    case 'function':
    case 'symbol':
    case 'bigint':
      return `${where()} is a ${typeof value}`
  }
  if (value === null) return null
  if (ancestors.includes(value)) return `${where()} is a circular reference`
  if (ancestors.length >= MAX_DEPTH) return `${where()} nests deeper than ${MAX_DEPTH} levels`
  if (!Array.isArray(value)) {
    const proto = Object.getPrototypeOf(value)
    if (proto !== OBJECT_PROTO && proto !== null) {
      if (typeof value.toJSON !== 'function') return `${where()} is ${kindOf(value)}`
      // Date and friends serialize themselves: what they give is checked instead.
      if (value instanceof Date && Number.isNaN(value.getTime())) return `${where()} is an invalid Date`
      return findNonJson(value.toJSON(key), path, ancestors, key)
    }
  }
  ancestors.push(value)
  let found = null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && found === null; i++) {
      path.push(`[${i}]`)
      found = findNonJson(value[i], path, ancestors, String(i))
      path.pop()
    }
  } else {
    for (const k of Object.keys(value)) {
      if (value[k] === undefined) continue
      path.push(/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)
      found = findNonJson(value[k], path, ancestors, k)
      path.pop()
      if (found !== null) break
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
  if (isPlainJson(value, 0)) return JSON.stringify(value)
  const problem = findNonJson(value, [root], [], '')
  if (problem === null) return JSON.stringify(value) // objects with a sound toJSON()
  throw Object.assign(new TypeError(`${what} is not JSON: ${problem}`), { problem })
}

/** A payload or result as the engine hands it over (its JSON text, or null): the value. */
function fromJsonText(text) {
  return text == null ? null : JSON.parse(text)
}

module.exports = { toJsonText, fromJsonText }

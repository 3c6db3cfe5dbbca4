'use strict'
// Reading requests and writing responses for the HTTP API: capped JSON bodies, JSON and
// problem answers, the bearer token, CORS. Nothing here knows a route.

const crypto = require('node:crypto')

/** An answer to send as it is: a status, a JSON body (or none), extra headers. */
class HttpError extends Error {
  /** `headers` go on the response; `fields` into its body beside `detail`. */
  constructor(status, detail, headers = {}, fields = {}) {
    super(detail)
    this.status = status
    this.detail = detail
    this.headers = headers
    this.fields = fields
  }
}

function sendJson(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

function sendEmpty(res, status, headers = {}) {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers })
  res.end()
}

/** Starts a server-sent event stream on `res` (unbuffered by proxies, never cached). */
function startEventStream(res, headers = {}) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  })
}

/**
 * The request's JSON body: undefined when there is none. A body over `limit` bytes is a
 * 413, malformed JSON a 400, a content type that is not JSON a 415. A body that a
 * framework already parsed (Express's `express.json()`) is taken as it is.
 */
function readJsonBody(req, limit) {
  if (req.body !== undefined && (req.readableEnded || req.complete)) {
    return Promise.resolve(isEmptyParsed(req.body) ? undefined : req.body)
  }
  const type = req.headers['content-type']
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new HttpError(413, `the request body is larger than ${limit} bytes`, { connection: 'close' }))
  }
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    let failed = false
    req.on('data', (chunk) => {
      if (failed) return
      size += chunk.length
      if (size > limit) {
        failed = true
        reject(new HttpError(413, `the request body is larger than ${limit} bytes`, { connection: 'close' }))
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on('error', (err) => {
      if (!failed) reject(err)
      failed = true
    })
    req.on('end', () => {
      if (failed) return
      const text = Buffer.concat(chunks).toString('utf8')
      if (text === '') return resolve(undefined)
      if (type !== undefined && !/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
        return reject(new HttpError(415, `the request body must be JSON (content-type: application/json), got '${type}'`))
      }
      try {
        resolve(JSON.parse(text))
      } catch (err) {
        reject(new HttpError(400, `the request body is not valid JSON: ${err.message}`))
      }
    })
  })
}

/** Express leaves `{}` on requests that had no JSON body. */
function isEmptyParsed(body) {
  return body === null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0 && !Buffer.isBuffer(body))
}

/** Compares a presented bearer token with the configured one in constant time. */
function tokenMatches(header, token) {
  if (typeof header !== 'string') return false
  const m = /^Bearer\s+(.+)$/i.exec(header.trim())
  if (m === null) return false
  // Digests have one length, so timingSafeEqual never short-cuts on the token's length.
  const a = crypto.createHash('sha256').update(m[1]).digest()
  const b = crypto.createHash('sha256').update(token).digest()
  return crypto.timingSafeEqual(a, b)
}

/** The CORS headers for a request's origin, or none (no CORS unless configured). */
function corsHeaders(cors, origin) {
  if (cors === undefined || origin === undefined) return {}
  const allowed = cors.origin === '*' || [].concat(cors.origin).includes(origin)
  if (!allowed) return {}
  return {
    'access-control-allow-origin': cors.origin === '*' ? '*' : origin,
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-expose-headers': 'location, link, x-request-id',
    vary: 'origin',
  }
}

module.exports = { HttpError, sendJson, sendEmpty, startEventStream, readJsonBody, tokenMatches, corsHeaders }

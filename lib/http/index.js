'use strict'
// taskloom/http: the task registry's HTTP API (chapkit's routes and shapes, and the
// management routes), as a `(req, res, next?)` handler for node:http, Express, Fastify
// or Koa, and `serve()` for a server of its own.

const http = require('node:http')
const crypto = require('node:crypto')
const { HttpError, sendJson, sendEmpty, readJsonBody, tokenMatches, corsHeaders } = require('./respond.js')
const { match } = require('./routes.js')
const { openapiDocument } = require('./openapi.js')
const { serveUi } = require('./ui.js')

const DEFAULT_BODY_LIMIT = 1024 * 1024
const HANDLER_OPTIONS = ['token', 'cors', 'bodyLimit', 'logger', 'basePath']

function checkHandlerOptions(options, what) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${what} options must be an object`)
  const { token, cors, bodyLimit, logger } = options
  if (token !== undefined && (typeof token !== 'string' || token.length < 8)) {
    throw new TypeError('`token` must be a string of at least 8 characters')
  }
  if (cors !== undefined) {
    const o = cors?.origin
    const valid = o === '*' || typeof o === 'string' || (Array.isArray(o) && o.length > 0 && o.every((x) => typeof x === 'string'))
    if (!valid) throw new TypeError("`cors` must be { origin: '*' | 'https://app.example' | [origins] }")
  }
  if (bodyLimit !== undefined && !(Number.isInteger(bodyLimit) && bodyLimit > 0)) {
    throw new TypeError(`\`bodyLimit\` must be a positive whole number of bytes, got ${bodyLimit}`)
  }
  if (logger !== undefined && typeof logger !== 'function') throw new TypeError('`logger` must be a function (message, error)')
  const { basePath } = options
  if (basePath !== undefined && (typeof basePath !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath))) {
    throw new TypeError(`\`basePath\` must be a path such as '/tasks-api' (no trailing slash), got ${JSON.stringify(basePath)}`)
  }
}

/**
 * The API as a request handler. `options`: `token` (bearer token every route but
 * `/health` requires), `cors` (`{ origin }`; no CORS headers without it), `bodyLimit`
 * (bytes, default 1 MB), `logger` (`(message, error) => void`, default console.error).
 * Under Express/Connect a path it does not serve goes to `next()`.
 */
function createHandler(ex, options = {}) {
  if (ex === null || typeof ex !== 'object' || typeof ex.submit !== 'function') throw new TypeError('createHandler(ex) expects a taskloom Executor')
  checkHandlerOptions(options, 'createHandler()')
  const unknown = Object.keys(options).filter((k) => !HANDLER_OPTIONS.includes(k))
  if (unknown.length > 0) throw new TypeError(`unknown createHandler() option '${unknown[0]}' (expected ${HANDLER_OPTIONS.join(', ')})`)
  const settings = {
    token: options.token,
    cors: options.cors,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: options.logger ?? ((message, err) => console.error(message, err)),
    basePath: options.basePath,
  }
  return function taskloomHttp(req, res, next) {
    respond(ex, settings, req, res, typeof next === 'function' ? next : undefined)
  }
}

async function respond(ex, settings, req, res, next) {
  const requestId = crypto.randomUUID()
  const headers = { 'x-request-id': requestId, ...corsHeaders(settings.cors, req.headers.origin) }
  try {
    const url = new URL(req.url ?? '/', 'http://taskloom.invalid')
    // Under a prefix the framework does not strip (Fastify, Koa), the routes start after it;
    // links in answers carry it, or the path Express mounted the handler at.
    let path = url.pathname
    const base = settings.basePath ?? (typeof req.baseUrl === 'string' ? req.baseUrl : '')
    if (settings.basePath !== undefined) {
      if (path !== settings.basePath && !path.startsWith(`${settings.basePath}/`)) {
        if (next !== undefined) return next()
        return sendJson(res, 404, { detail: 'Not Found' }, headers)
      }
      path = path.slice(settings.basePath.length) || '/'
      url.pathname = path
    }
    if (req.method === 'OPTIONS' && settings.cors !== undefined) return sendEmpty(res, 204, headers)
    if (crossOriginRefused(req, settings.cors)) {
      return sendJson(res, 403, { detail: 'a cross-origin request that changes something is refused (configure `cors` to allow its origin)' }, headers)
    }
    const authorized = () => settings.token === undefined || tokenMatches(req.headers.authorization, settings.token)
    if (path === '/ui' || path.startsWith('/ui/')) {
      const ctx = { ex, req, res, url, base, headers }
      const r = await serveUi(ctx, path, authorized)
      if (r === true || r === undefined) return
      if (r === false) {
        if (next !== undefined) return next()
        return sendJson(res, 404, { detail: 'Not Found' }, headers)
      }
      return sendJson(res, r.status, r.body, { ...headers, ...r.headers })
    }
    if (path.length > 1 && path.endsWith('/')) {
      return sendEmpty(res, 307, { ...headers, location: base + path.replace(/\/+$/, '') + url.search })
    }
    const route = path === '/api/v1/openapi.json' ? (req.method === 'GET' || req.method === 'HEAD' ? { openapi: true } : { allow: ['GET'] }) : match(req.method, path)
    if (route === undefined) {
      if (next !== undefined) return next()
      return sendJson(res, 404, { detail: 'Not Found' }, headers)
    }
    if (route.allow !== undefined) {
      return sendJson(res, 405, { detail: 'Method Not Allowed' }, { ...headers, allow: route.allow.join(', ') })
    }
    if (path !== '/health' && !authorized()) {
      return sendJson(res, 401, { detail: 'a valid bearer token is required (Authorization: Bearer <token>)' }, { ...headers, 'www-authenticate': 'Bearer' })
    }
    if (route.openapi) return sendJson(res, 200, openapiDocument(ex.tasks(), ex.storeKind, base), headers)
    const ctx = { ex, req, res, url, base, headers, body: () => readJsonBody(req, settings.bodyLimit) }
    const r = await route.handler(ctx, route.params.map(decodeURIComponent))
    if (r === undefined) return // it took the response over (the event stream)
    if (r.text !== undefined) {
      res.writeHead(r.status, { ...headers, ...r.headers, 'content-length': Buffer.byteLength(r.text) })
      return res.end(req.method === 'HEAD' ? undefined : r.text)
    }
    if (r.body === undefined) return sendEmpty(res, r.status, { ...headers, ...r.headers })
    return sendJson(res, r.status, r.body, { ...headers, ...r.headers })
  } catch (err) {
    if (err instanceof HttpError) return sendJson(res, err.status, { detail: err.detail, ...err.fields }, { ...headers, ...err.headers })
    if (err instanceof URIError) return sendJson(res, 400, { detail: 'the path is not valid percent-encoding' }, headers)
    if (err?.code === 'ERR_EXECUTOR_CLOSED') return sendJson(res, 503, { detail: 'the executor is closing', request_id: requestId }, headers)
    // Ours, not the client's: logged with its request id, never shown.
    settings.logger(`taskloom http: request ${requestId} ${req.method} ${req.url} failed`, err)
    if (res.headersSent) return res.destroy()
    const status = err?.code === 'ERR_STORE' ? 503 : 500
    return sendJson(res, status, { detail: status === 503 ? 'the store is unavailable' : 'Internal Server Error', request_id: requestId }, headers)
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Cross-site request forgery: a browser on another site can send a POST (a form, or a
 * no-cors fetch) that needs no preflight. Without a token the API would act on it. A
 * request that changes something is refused when the browser marks it cross-site
 * (Sec-Fetch-Site), or when its Origin is not this server's; clients that are not
 * browsers send neither header. (The algorithm of Go's net/http CrossOriginProtection.)
 */
function crossOriginRefused(req, cors) {
  if (SAFE_METHODS.has(req.method)) return false
  const origin = req.headers.origin
  if (cors !== undefined && origin !== undefined && (cors.origin === '*' || [].concat(cors.origin).includes(origin))) return false
  const site = req.headers['sec-fetch-site']
  if (site !== undefined) return site !== 'same-origin' && site !== 'none'
  if (origin === undefined || origin === 'null') return origin === 'null'
  try {
    return new URL(origin).host !== req.headers.host
  } catch {
    return true
  }
}

function isLoopback(host) {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/**
 * Serves the API on its own server: `host` (default 127.0.0.1), `port` (default 8000;
 * 0 picks a free one), and the handler's options. A host that is not loopback needs a
 * `token`. Resolves to `{ url, port, server, close() }`.
 */
async function serve(ex, options = {}) {
  checkHandlerOptions(options, 'serve()')
  const { host = '127.0.0.1', port = 8000, ...rest } = options
  if (typeof host !== 'string' || host === '') throw new TypeError('`host` must be a host name or address')
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new TypeError(`\`port\` must be a whole number from 0 to 65535, got ${port}`)
  if (!isLoopback(host) && rest.token === undefined) {
    throw new TypeError(`serving on '${host}' would open the API to the network: give a \`token\`, or serve on 127.0.0.1`)
  }
  const server = http.createServer(createHandler(ex, rest))
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    server,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections?.()
      })
    },
  }
}

module.exports = { createHandler, serve }

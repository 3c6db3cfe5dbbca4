'use strict'
// The dashboard's files (lib/http/ui/), served as they are: no build step, no CDN. Each
// is read once, gzipped once and answered with an ETag, so a reload costs a 304.

const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')
const crypto = require('node:crypto')

const DIR = path.join(__dirname, 'ui')
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

// The page loads only its own files and talks only to its own server: no inline script,
// no framing (clickjacking), nothing from elsewhere.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

const cache = new Map()

/** The asset at `name` (a file name in lib/http/ui), or undefined. */
function asset(name) {
  if (!/^[a-z0-9-]+\.(html|js|css|svg)$/.test(name)) return undefined
  if (cache.has(name)) return cache.get(name)
  let body
  try {
    body = fs.readFileSync(path.join(DIR, name))
  } catch {
    return undefined
  }
  const entry = {
    body,
    gzipped: zlib.gzipSync(body, { level: 9 }),
    etag: `"${crypto.createHash('sha1').update(body).digest('base64url')}"`,
    type: TYPES[path.extname(name)],
  }
  cache.set(name, entry)
  return entry
}

/** Answers a GET for asset `name`; false when there is no such file. */
function sendAsset(req, res, name, headers) {
  const a = asset(name)
  if (a === undefined) return false
  const common = { ...headers, ...SECURITY_HEADERS, etag: a.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' }
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304, common)
    res.end()
    return true
  }
  const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')
  const body = gzip ? a.gzipped : a.body
  res.writeHead(200, {
    ...common,
    'content-type': a.type,
    'content-length': body.length,
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  })
  res.end(req.method === 'HEAD' ? undefined : body)
  return true
}

/** Every asset's name and sizes (for the test that keeps the page small). */
function assetSizes() {
  return fs
    .readdirSync(DIR)
    .filter((n) => asset(n) !== undefined)
    .map((n) => ({ name: n, bytes: asset(n).body.length, gzipped: asset(n).gzipped.length }))
}

module.exports = { sendAsset, assetSizes, SECURITY_HEADERS }

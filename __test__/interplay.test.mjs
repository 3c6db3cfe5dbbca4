// All policies on one task that calls a flaky HTTP API (served here, on loopback):
// retries with backoff, a rate limit, a circuit breaker, maxParallel and a timeout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { Executor, NonRetryableError } from '../index.mjs'

/** A small API that is down for its first `outage` requests and hangs once on /users/13. */
function flakyApi({ outage }) {
  const stats = { requests: 0, inFlight: 0, maxInFlight: 0, arrivals: [] }
  let hungOnce = false
  const server = http.createServer((req, res) => {
    stats.requests++
    stats.inFlight++
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
    stats.arrivals.push(Date.now())
    const done = () => stats.inFlight--
    res.on('close', done)
    const id = Number(req.url.split('/').pop())
    if (stats.requests <= outage) {
      res.writeHead(503).end('down for maintenance')
    } else if (id === 13 && !hungOnce) {
      hungOnce = true // never answers: the client's timeout must give up
    } else if (id === 404) {
      res.writeHead(404).end('no such user')
    } else {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, name: `user ${id}` })), 5)
    }
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, stats, url: `http://127.0.0.1:${server.address().port}` }))
  })
}

test('retry, rate limit, breaker, maxParallel and timeout together against a flaky API', async () => {
  const { server, stats, url } = await flakyApi({ outage: 5 })
  const ex = new Executor({ concurrency: 32 })
  ex.register('fetch-user', async (id, ctx) => {
    const res = await fetch(`${url}/users/${id}`, { signal: ctx.signal })
    if (res.status === 404) throw new NonRetryableError(`user ${id} does not exist`)
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    return res.json()
  }, {
    retry: { maxRetries: 6, backoff: 'exponential', delayMs: 10, maxDelayMs: 100, jitter: true },
    rateLimit: { limit: 10, intervalMs: 100, burst: 1 }, // one request every 10 ms
    circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 50 },
    maxParallel: 3,
    timeoutMs: 150,
  })
  const transitions = []
  ex.on('breaker', (e) => transitions.push(`${e.from}->${e.to}`))

  const ids = Array.from({ length: 20 }, (_, i) => i + 1)
  const handles = await ex.submitMany('fetch-user', ids)
  const missing = await ex.submit('fetch-user', 404)
  const users = await Promise.all(handles.map((h) => h.result()))

  assert.deepEqual(users.map((u) => u.id), ids, 'every task succeeded despite the outage and the hang')
  const err = await missing.result().catch((e) => e)
  assert.equal(err.errorType, 'NonRetryableError')
  assert.equal(err.retries, 0)
  assert.ok(transitions.includes('closed->open'), `the outage opened the breaker: ${transitions}`)
  assert.equal(transitions.at(-1), 'halfOpen->closed')
  assert.ok(stats.maxInFlight <= 3, `maxParallel held (${stats.maxInFlight} at once)`)
  // At one request per 10 ms, no 100 ms window sees more than 10 (+1 for edges and jitter).
  for (let i = 0; i < stats.arrivals.length; i++) {
    const inWindow = stats.arrivals.filter((t) => t >= stats.arrivals[i] && t < stats.arrivals[i] + 100).length
    assert.ok(inWindow <= 11, `${inWindow} requests within 100 ms`)
  }
  const hung = await handles[12].info()
  assert.ok(hung.retries >= 1, 'the hanging request timed out and was retried')
  assert.ok(stats.requests < 60, `the breaker kept the outage from being hammered (${stats.requests} requests)`)
  await ex.close()
  server.closeAllConnections()
  server.close()
})

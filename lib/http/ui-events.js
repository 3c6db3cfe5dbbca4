'use strict'
// `GET /ui/api/events`: the executor's events (from every process sharing the store) as
// server-sent events for the dashboard. Events are sent in batches at most every 250 ms,
// and nothing is sent while nothing happens. A batch carries at most 300 events; beyond
// that it says how many it dropped, but its per-queue tally of completed and failed runs
// counts them all, so the page's throughput charts stay right under any load.

const { startEventStream } = require('./respond.js')

const FLUSH_MS = 250
const MAX_EVENTS = 300
const HEARTBEAT_MS = 30_000

/** The event as the page needs it: small (no results), with the queue where known. */
const SHAPES = {
  state: (e) => ({ type: 'state', id: e.id, name: e.name, queue: e.queue, state: e.state }),
  progress: (e) => ({ type: 'progress', id: e.id, name: e.name, percent: e.percent, message: e.message ?? null }),
  status: (e) => ({ type: 'status', id: e.id, name: e.name, status: e.status }),
  log: (e) => ({ type: 'log', id: e.id, name: e.name, level: e.level, message: e.message, time: e.time.toISOString() }),
  completed: (e) => ({ type: 'completed', id: e.id, name: e.name, queue: e.queue, durationMs: e.durationMs }),
  failed: (e) => ({ type: 'failed', id: e.id, name: e.name, queue: e.queue, error: e.error?.message ?? null, willRetry: e.willRetry }),
  breaker: (e) => ({ type: 'breaker', name: e.name, from: e.from, to: e.to }),
  rateLimited: (e) => ({ type: 'rateLimited', scope: e.scope, name: e.name, until: e.until.toISOString() }),
}

/** Takes the response over until the client goes. */
function streamEvents({ ex, req, res, headers }) {
  startEventStream(res, headers)
  res.write(': taskloom events\n\n')
  let events = []
  let dropped = 0
  let tally = {}
  let timer = null
  const flush = () => {
    timer = null
    const batch = { at: Date.now(), events, dropped, tally }
    events = []
    dropped = 0
    tally = {}
    res.write(`data: ${JSON.stringify(batch)}\n\n`)
  }
  const listeners = Object.entries(SHAPES).map(([name, shape]) => {
    const listener = (e) => {
      if (name === 'completed' || name === 'failed') {
        const t = (tally[e.queue] ??= { completed: 0, failed: 0 })
        t[name] += 1
      }
      if (events.length < MAX_EVENTS) events.push(shape(e))
      else dropped += 1
      timer ??= setTimeout(flush, FLUSH_MS)
    }
    ex.on(name, listener)
    return [name, listener]
  })
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS)
  heartbeat.unref()
  return new Promise((resolve) => {
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      clearInterval(heartbeat)
      if (timer !== null) clearTimeout(timer)
      for (const [name, listener] of listeners) ex.off(name, listener)
      res.end()
      resolve()
    }
    req.on('close', end)
    res.on('close', end)
  })
}

module.exports = { streamEvents, FLUSH_MS, MAX_EVENTS }

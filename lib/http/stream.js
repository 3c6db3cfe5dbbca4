'use strict'
// `GET /api/v1/jobs/{id}/$stream`: server-sent events with the job record, sent at once,
// again on every change of the task (its state, progress, status — from any process
// sharing the store), and at least every poll interval; the stream ends once the job is
// terminal. Each event is `data: <job record>`.

const { startEventStream } = require('./respond.js')
const { jobView, FINISHED } = require('./views.js')

const EVENTS = ['state', 'progress', 'status']

/** Takes the response over; resolves when the stream ended. */
function streamJob({ ex, req, res, headers }, first, intervalMs, reread) {
  startEventStream(res, headers)
  return new Promise((resolve) => {
    let last = ''
    let ended = false
    let reading = false
    let again = false
    const send = (info) => {
      const text = JSON.stringify(jobView(info))
      if (text !== last) res.write(`data: ${text}\n\n`)
      last = text
      if (FINISHED.has(info.state)) end()
    }
    const look = async () => {
      if (ended) return
      if (reading) {
        again = true
        return
      }
      reading = true
      try {
        send(await reread())
      } catch {
        // Gone (removed, trimmed): say so, then stop.
        res.write(`data: ${JSON.stringify({ id: first.id, status: 'deleted' })}\n\n`)
        end()
      } finally {
        reading = false
        if (again && !ended) {
          again = false
          look()
        }
      }
    }
    const onEvent = (e) => {
      if (e.id === first.id) look()
    }
    const timer = setInterval(look, intervalMs)
    for (const e of EVENTS) ex.on(e, onEvent)
    function end() {
      if (ended) return
      ended = true
      clearInterval(timer)
      for (const e of EVENTS) ex.off(e, onEvent)
      res.end()
      resolve()
    }
    req.on('close', end)
    res.on('close', end)
    send(first)
    look() // a change between the first read and the subscription
  })
}

module.exports = { streamJob }

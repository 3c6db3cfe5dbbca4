'use strict'
// `taskloom top`: counts per queue and state, and how many tasks finished per second,
// refreshed in place in a terminal (one frame per refresh when piped).

const { countsTable } = require('./format.js')

const CLEAR = '\x1b[H\x1b[2J'

function finished(counts) {
  const c = counts.total
  return (c.SUCCESS ?? 0) + (c.FAILURE ?? 0) + (c.REVOKED ?? 0)
}

/** Runs until `signal` aborts; `out` is the stream written to. */
async function top(ex, store, { intervalMs, out, signal }) {
  let last = null
  while (!signal.aborted) {
    const counts = await ex.counts()
    const now = Date.now()
    const done = finished(counts)
    const rate = last === null ? null : ((done - last.done) * 1000) / Math.max(1, now - last.at)
    last = { done, at: now }
    const lines = [
      `taskloom top — ${store} — ${new Date(now).toISOString().slice(11, 19)}` +
        (rate === null ? '' : `   finished/s ${rate.toFixed(1)}`),
      '',
      countsTable(counts),
      '',
      out.isTTY ? 'q or Ctrl-C to quit' : '',
    ]
    out.write((out.isTTY ? CLEAR : '') + lines.join('\n') + '\n')
    await new Promise((resolve) => {
      const t = setTimeout(resolve, intervalMs)
      signal.addEventListener('abort', () => {
        clearTimeout(t)
        resolve()
      }, { once: true })
    })
  }
}

module.exports = { top }

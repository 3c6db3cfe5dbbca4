// Throughput and failures per queue over the last minutes, from the event stream's
// tallies (every completed and failed run, even when the batch dropped events), in
// one-second buckets, drawn as small SVG charts.

import { svg } from './dom.js'

export const WINDOW_S = 300

/** Per-queue completed and failed runs per second, for the last WINDOW_S seconds. */
export class Rates {
  #queues = new Map()

  /** Adds a batch's tally `{ queue: { completed, failed } }` at time `at` (ms). */
  add(tally, at) {
    const second = Math.floor(at / 1000)
    for (const [queue, t] of Object.entries(tally)) {
      let q = this.#queues.get(queue)
      if (q === undefined) this.#queues.set(queue, (q = new Map()))
      const b = q.get(second) ?? { completed: 0, failed: 0 }
      b.completed += t.completed
      b.failed += t.failed
      q.set(second, b)
      for (const s of q.keys()) if (s <= second - WINDOW_S) q.delete(s)
    }
  }

  /** `{ completed: number[], failed: number[] }`, oldest second first, ending now. */
  series(queue, now = Date.now()) {
    const q = this.#queues.get(queue)
    const last = Math.floor(now / 1000)
    const completed = []
    const failed = []
    for (let s = last - WINDOW_S + 1; s <= last; s++) {
      const b = q?.get(s)
      completed.push(b?.completed ?? 0)
      failed.push(b?.failed ?? 0)
    }
    return { completed, failed }
  }

  /** Completed per second and the failure rate over the last `seconds` (default 60). */
  summary(queue, seconds = 60, now = Date.now()) {
    const { completed, failed } = this.series(queue, now)
    const c = completed.slice(-seconds).reduce((a, b) => a + b, 0)
    const f = failed.slice(-seconds).reduce((a, b) => a + b, 0)
    return { perSecond: c / seconds, failureRate: c + f === 0 ? null : f / (c + f) }
  }
}

/** A sparkline of `values` (one per second); `label` is its accessible name. */
export function sparkline(values, { width = 160, height = 28, className = 'spark', label = '' } = {}) {
  const max = Math.max(1, ...values)
  const step = width / Math.max(1, values.length - 1)
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ')
  return svg(
    'svg',
    { class: className, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label },
    svg('title', {}, `${label} (peak ${max}/s)`),
    svg('polyline', { points, fill: 'none' }),
  )
}

// What every view shares: the event stream (one per page), the throughput it tallies,
// and the confirmation dialog of destructive actions.

import { followEvents } from './api.js'
import { Rates } from './charts.js'

export const rates = new Rates()
const listeners = new Set()

/** Calls `fn(batch)` for every event batch until the returned function is called. */
export function onEvents(fn) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

/** Opens the stream; `setLive(bool)` shows whether updates arrive. */
export function startLive(setLive) {
  followEvents((batch) => {
    rates.add(batch.tally, batch.at)
    for (const fn of listeners) fn(batch)
  }, setLive)
}

/** Asks before a destructive action; resolves true to go ahead. */
export function confirmAction(text) {
  const dialog = document.getElementById('confirm')
  document.getElementById('confirm-text').textContent = text
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close()
      resolve(answer)
    }
    document.getElementById('confirm-ok').onclick = () => done(true)
    document.getElementById('confirm-no').onclick = () => done(false)
    dialog.oncancel = () => resolve(false)
    dialog.showModal()
  })
}

/** Runs `fn` at most every `ms` (the last call always runs). */
export function throttle(fn, ms) {
  let timer = null
  let again = false
  return () => {
    if (timer !== null) {
      again = true
      return
    }
    fn()
    timer = setTimeout(function tick() {
      timer = null
      if (again) {
        again = false
        fn()
        timer = setTimeout(tick, ms)
      }
    }, ms)
  }
}

/** A message at the top of the page (an action's outcome, an error). */
export function notice(text, kind = 'info') {
  let box = document.getElementById('notice')
  if (box === null) {
    box = document.createElement('div')
    box.id = 'notice'
    box.setAttribute('role', 'status')
    document.body.appendChild(box)
  }
  box.className = `notice ${kind}`
  box.textContent = text
  clearTimeout(box._timer)
  box._timer = setTimeout(() => box.remove(), 6000)
}

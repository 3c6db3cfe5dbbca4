'use strict'
// Timers any distance ahead. Node's setTimeout takes at most 2^31−1 ms (about 24.8 days):
// a longer delay fires after 1 ms with a TimeoutOverflowWarning, which turned a 30-day
// timeout into an instant failure and a 30-day delay into a busy loop. A long timer here
// waits in steps of the longest allowed delay.

/** The longest delay `setTimeout` takes as it is. */
const MAX_TIMER_MS = 2 ** 31 - 1

class LongTimer {
  #timer = null
  #unref = false

  constructor(fn, ms) {
    this.#wait(Date.now() + ms, fn)
  }

  #wait(at, fn) {
    const left = at - Date.now()
    this.#timer = setTimeout(() => (left > MAX_TIMER_MS ? this.#wait(at, fn) : fn()), Math.min(Math.max(0, left), MAX_TIMER_MS))
    if (this.#unref) this.#timer.unref()
  }

  unref() {
    this.#unref = true
    this.#timer?.unref()
    return this
  }

  clear() {
    clearTimeout(this.#timer)
    this.#timer = null
  }
}

/** `setTimeout(fn, ms)` for any `ms`: a plain timer when it fits, a LongTimer when not. */
function setLongTimeout(fn, ms) {
  return ms <= MAX_TIMER_MS ? setTimeout(fn, ms) : new LongTimer(fn, ms)
}

/** Clears what `setLongTimeout` returned. */
function clearLongTimeout(timer) {
  if (timer instanceof LongTimer) timer.clear()
  else clearTimeout(timer)
}

/** A delay clamped to what setTimeout takes: for timers whose callback looks again anyway. */
function clampDelay(ms) {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS)
}

/**
 * One timer for the next due time (ms since the epoch) of something that is looked at
 * again when it fires: setting a later time than the one armed keeps the earlier timer
 * (its callback re-arms for the rest), an earlier one replaces it, null clears it.
 */
class DueTimer {
  #timer = null
  #due = 0
  #onDue
  #unref

  /** `unref`: the timer does not keep Node running. */
  constructor(onDue, { unref = false } = {}) {
    this.#onDue = onDue
    this.#unref = unref
  }

  set(due) {
    if (due === null) return this.clear()
    if (this.#timer !== null && this.#due <= due) return
    this.clear()
    this.#due = due
    // Clamped: a timer that fires early is set again for the rest.
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#onDue()
    }, clampDelay(due - Date.now()))
    if (this.#unref) this.#timer.unref()
  }

  clear() {
    if (this.#timer === null) return
    clearTimeout(this.#timer)
    this.#timer = null
  }
}

module.exports = { setLongTimeout, clearLongTimeout, clampDelay, DueTimer, MAX_TIMER_MS }

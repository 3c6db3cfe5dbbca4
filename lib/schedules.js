'use strict'
const { clampDelay } = require('./timers.js')
// Keeps one timer for an executor's cron schedules: at each due tick it asks the engine
// to submit what came due (crates/engine/src/engine/schedules.rs decides, and keys
// each tick's task so that every process on the store submits it once between them).

/** Durable stores: how often to look for schedules other processes declared. */
const SCHEDULE_POLL_MS = 1000
/** After a failed attempt (the store unreachable), when to try again. */
const RETRY_MS = 1000

class Schedules {
  /**
   * @param native  the NativeExecutor
   * @param kick    asks the dispatcher to claim (a submitted tick may run here)
   * @param onError receives errors from firing (the store failed)
   */
  constructor(native, kick, onError) {
    this.native = native
    this.kick = kick
    this.onError = onError
    this.timer = null
    this.failing = false
    this.stopped = !native.worker
    this.durable = native.durable
    if (!this.stopped && this.durable) this.arm(Date.now() + SCHEDULE_POLL_MS, false)
  }

  /** Schedules were declared, paused, resumed or removed here: look again now. */
  changed() {
    if (this.stopped) return
    this.arm(Date.now(), true)
  }

  tick() {
    this.timer = null
    if (this.stopped) return
    let next
    try {
      next = this.native.fireSchedules()
    } catch (err) {
      // Reported once per run of failures (the store's own fault is reported too).
      if (!this.failing) this.onError(err)
      this.failing = true
      this.arm(Date.now() + RETRY_MS, false)
      return
    }
    this.failing = false
    this.kick()
    const now = Date.now()
    let due = next >= 0 ? next : Infinity
    if (this.durable) due = Math.min(due, now + SCHEDULE_POLL_MS)
    // A schedule this executor fires holds the process open, as a cron daemon would;
    // polling for schedules declared elsewhere does not.
    if (due !== Infinity) this.arm(due, next >= 0)
  }

  arm(at, hold) {
    if (this.timer !== null) clearTimeout(this.timer)
    // Clamped: a tick looked at early finds nothing due and arms again for the rest.
    this.timer = setTimeout(() => this.tick(), clampDelay(at - Date.now()))
    if (!hold) this.timer.unref()
  }

  stop() {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}

module.exports = { Schedules }

'use strict'
// The waiters of `result()` calls. A call makes one promise and one Waiter; the engine is
// told about waiters in batches (one `watchMany` per pump, not one crossing per call).
// Waiters of tasks held here are kept by engine slot, not by a 36-character id, and a
// task this process runs to success settles them from the value the dispatcher holds,
// with no event and no re-read. Tasks held elsewhere (durable stores) settle by id from
// the store's notices.

const { fromJsonText } = require('./json.js')
const { setLongTimeout, clearLongTimeout } = require('./timers.js')
const { TaskFailedError, CircuitOpenError, TaskCancelledError, TimeoutError, ExecutorClosedError, TaskNotFoundError, fromNative } = require('./errors.js')

const ID_LENGTH = 36
/** `Waiter.place` before its batch reached the engine. */
const UNSENT = -2
/** `Waiter.place` of a task held elsewhere (kept by id). */
const BY_ID = -1

/** A task's final outcome (`{ id, name, state, result, error, retries }`) as a value or an error. */
function outcome(info) {
  // Deleted before it finished (drained, removed, trimmed): the store says it is gone.
  if (info.missing === true) return { ok: false, error: gone(info.id) }
  switch (info.state) {
    case 'SUCCESS':
      return { ok: true, value: fromJsonText(info.result) }
    case 'FAILURE':
      if (info.error?.type === 'CircuitOpenError') return { ok: false, error: new CircuitOpenError(info) }
      return { ok: false, error: new TaskFailedError(info) }
    default:
      return { ok: false, error: new TaskCancelledError(info) }
  }
}

function gone(id) {
  return new TaskNotFoundError(`task ${id} was deleted before it finished (ex.drain, or retention)`)
}

/** One `result()` call waiting. Its id is cut from its batch's ids only when asked for. */
class Waiter {
  constructor(ids, index, resolve, reject) {
    this.ids = ids
    this.index = index
    this.resolve = resolve
    this.reject = reject
    this.timer = null
    this.place = UNSENT
    this.done = false
  }

  get id() {
    return this.index < 0 ? this.ids : this.ids.slice(this.index * ID_LENGTH, (this.index + 1) * ID_LENGTH)
  }

  settle(o) {
    if (this.done) return
    this.done = true
    if (this.timer !== null) clearLongTimeout(this.timer)
    if (o.ok) this.resolve(o.value)
    else this.reject(o.error)
  }
}

/** Waiters of one task: one Waiter, or an array once a second one comes. */
function addWaiter(existing, waiter) {
  if (existing === undefined) return waiter
  if (Array.isArray(existing)) {
    existing.push(waiter)
    return existing
  }
  return [existing, waiter]
}

/** `existing` without `waiter` (undefined when none is left). */
function dropWaiter(existing, waiter) {
  if (existing === waiter || existing === undefined) return undefined
  if (!Array.isArray(existing)) return existing
  const rest = existing.filter((w) => w !== waiter)
  return rest.length === 0 ? undefined : rest
}

function settleAll(w, o) {
  if (Array.isArray(w)) for (const waiter of w) waiter.settle(o)
  else w.settle(o)
}

/**
 * The common waiter, kept lean: no timeout, alone on its task. In the tables it is just
 * its promise's `resolve`, with its `reject` beside it; anything else is a Waiter.
 */
function leanSettle(resolve, reject, o) {
  if (o.ok) resolve(o.value)
  else reject(o.error)
}

class ResultWaiters {
  /** @param native the NativeExecutor; `kick()` asks the dispatcher for a pump. */
  constructor(native, kick) {
    this.native = native
    this.kick = kick
    /**
     * Waiters not yet told to the engine, [by id only, submitted by this executor]: a
     * Waiter each, or (lean) `ids, index, resolve, reject` in a row.
     */
    this.unsent = [[], []]
    /**
     * Waiters of tasks held here, by engine slot (a slot is reused only after its task
     * settled): a lean `resolve` (its `reject` in `rejectBySlot`), a Waiter, or an array.
     */
    this.bySlot = []
    this.rejectBySlot = []
    /** Waiters of tasks held elsewhere, by id. */
    this.byId = new Map()
  }

  /**
   * A promise of the outcome of the task whose id is `ids` (index < 0) or the index-th
   * of the concatenated `ids`. `submitted`: this executor submitted it, so it exists
   * (a durable store looks it up with its next poll, batched with the others).
   */
  wait(ids, index, submitted, timeoutMs) {
    const unsent = this.unsent[submitted ? 1 : 0]
    this.kick()
    if (timeoutMs === undefined) {
      return new Promise((resolve, reject) => {
        unsent.push(ids, index, resolve, reject)
      })
    }
    return new Promise((resolve, reject) => {
      const waiter = new Waiter(ids, index, resolve, reject)
      unsent.push(waiter)
      waiter.timer = setLongTimeout(() => this.#timedOut(waiter, timeoutMs), timeoutMs)
    })
  }

  /**
   * Tells the engine about every unsent waiter, one call per batch. The dispatcher does
   * this at the start of each pump, before completions are recorded, so that no task
   * finishes (and is trimmed) between a `result()` call and its watch.
   * `lookUpNow`: the executor is closing, nothing polls any more.
   */
  flush(lookUpNow) {
    let elsewhere = false
    for (let s = 0; s < 2; s++) {
      const batch = this.unsent[s]
      if (batch.length === 0) continue
      this.unsent[s] = []
      const answers = this.#watch(batch, s === 1 && !lookUpNow)
      for (let i = 0, k = 0; i < batch.length; k++) {
        let w = batch[i]
        let resolve = null
        let reject = null
        if (w instanceof Waiter) {
          i += 1
          if (w.done) continue // timed out before it was sent: nobody waits
        } else {
          resolve = batch[i + 2]
          reject = batch[i + 3]
          i += 4
        }
        const a = answers[k]
        if (typeof a === 'string') {
          // A success: its result text.
          if (resolve !== null) resolve(fromJsonText(a))
          else w.settle({ ok: true, value: fromJsonText(a) })
          continue
        }
        if (typeof a === 'number' && a >= 0 && !lookUpNow) {
          const here = this.bySlot[a]
          if (resolve !== null && here === undefined) {
            this.bySlot[a] = resolve
            this.rejectBySlot[a] = reject
            continue
          }
          if (resolve !== null) w = new Waiter(w, batch[i - 3], resolve, reject)
          w.place = a
          this.bySlot[a] = addWaiter(this.#asWaiter(a, here), w)
          continue
        }
        if (resolve !== null) w = new Waiter(w, batch[i - 3], resolve, reject)
        if (typeof a === 'number') {
          if (lookUpNow) {
            w.settle({ ok: false, error: new ExecutorClosedError(`the executor is closed; task ${w.id} has not finished`) })
          } else {
            const id = w.id
            w.place = BY_ID
            this.byId.set(id, addWaiter(this.byId.get(id), w))
            elsewhere = true
          }
        } else if (a.state !== undefined) {
          w.settle(outcome(a))
        } else {
          w.settle({ ok: false, error: fromNative(Object.assign(new Error(a.message), { code: a.code })) })
        }
      }
    }
    // A task held elsewhere is now watched: a pump arms the poll (or the store's notice).
    if (elsewhere) this.kick()
  }

  /** The engine's answer for each waiter of `batch` (see `Engine::watch_many`). */
  #watch(batch, submitted) {
    if (batch.length === 1 || (batch.length === 4 && !(batch[0] instanceof Waiter))) {
      // One waiter (a serial submit → result): no typed array, no JSON for a slot.
      const w = batch[0]
      const id = w instanceof Waiter ? w.id : batch[1] < 0 ? w : w.slice(batch[1] * ID_LENGTH, (batch[1] + 1) * ID_LENGTH)
      try {
        const where = this.native.watchWhere(id, submitted)
        return [typeof where === 'number' ? where : JSON.parse(where)]
      } catch (err) {
        return [{ code: err.code, message: err.message }]
      }
    }
    // Each batch of ids (a submitMany's) goes once; positions pick the ids in it.
    const bases = new Map()
    let ids = ''
    let count = 0
    const positions = new Uint32Array(batch.length)
    let n = 0
    const place = (str, index) => {
      let base = bases.get(str)
      if (base === undefined) {
        base = count
        bases.set(str, base)
        ids += str
        count += str.length / ID_LENGTH
      }
      positions[n++] = base + (index < 0 ? 0 : index)
    }
    for (let i = 0; i < batch.length; ) {
      const w = batch[i]
      if (w instanceof Waiter) {
        place(w.ids, w.index)
        i += 1
      } else {
        place(w, batch[i + 1])
        i += 4
      }
    }
    return JSON.parse(this.native.watchMany(ids, positions.subarray(0, n), submitted))
  }

  /** The waiters at `slot` with a lean one turned into a Waiter (a second one joins it). */
  #asWaiter(slot, here) {
    if (typeof here !== 'function') return here
    const w = new Waiter(this.idAt(slot), -1, here, this.rejectBySlot[slot])
    w.place = slot
    this.rejectBySlot[slot] = undefined
    return w
  }

  /** A task held here finished: `ok` with its result text, or its outcome. */
  settleHere(slot, ok, x) {
    const w = this.bySlot[slot]
    if (w === undefined) return
    this.bySlot[slot] = undefined
    if (typeof w === 'function') {
      const reject = this.rejectBySlot[slot]
      this.rejectBySlot[slot] = undefined
      if (ok) w(fromJsonText(x))
      else leanSettle(w, reject, outcome(x))
      return
    }
    settleAll(w, ok ? { ok: true, value: fromJsonText(x) } : outcome(x))
  }

  /** Tasks held here were deleted (`ex.drain`): their waiters reject with TaskNotFoundError. */
  goneHere(slotsAndIds) {
    for (const [slot, id] of slotsAndIds) {
      const w = this.bySlot[slot]
      if (w === undefined) continue
      this.bySlot[slot] = undefined
      const result = { ok: false, error: gone(id) }
      if (typeof w === 'function') {
        const reject = this.rejectBySlot[slot]
        this.rejectBySlot[slot] = undefined
        leanSettle(w, reject, result)
      } else settleAll(w, result)
    }
  }

  /** A task held elsewhere finished: its outcome settles the waiters of its id. */
  settleById(info) {
    const w = this.byId.get(info.id)
    if (w === undefined) return
    this.byId.delete(info.id)
    settleAll(w, outcome(info))
  }

  /** The executor closed: every waiter left rejects with ExecutorClosedError. */
  closeAll() {
    const error = (id) => new ExecutorClosedError(`the executor closed before task ${id} finished`)
    const closed = (w) => {
      for (const waiter of Array.isArray(w) ? w : [w]) waiter.settle({ ok: false, error: error(waiter.id) })
    }
    for (const batch of this.unsent) {
      for (let i = 0; i < batch.length; ) {
        if (batch[i] instanceof Waiter) closed(batch[i++])
        else {
          closed(new Waiter(batch[i], batch[i + 1], batch[i + 2], batch[i + 3]))
          i += 4
        }
      }
    }
    this.unsent = [[], []]
    for (const w of this.byId.values()) closed(w)
    this.byId.clear()
    for (let slot = 0; slot < this.bySlot.length; slot++) {
      const w = this.bySlot[slot]
      if (w === undefined) continue
      // A lean waiter kept no id: the task is in the slot still (it had not settled).
      if (typeof w === 'function') leanSettle(w, this.rejectBySlot[slot], { ok: false, error: error(this.idAt(slot)) })
      else closed(w)
    }
    this.bySlot = []
    this.rejectBySlot = []
  }

  /** The id of the task in `slot`, for an error message. */
  idAt(slot) {
    try {
      return this.native.slotId(slot)
    } catch {
      return `in slot ${slot}`
    }
  }

  #timedOut(w, timeoutMs) {
    w.timer = null
    if (w.place >= 0) this.bySlot[w.place] = dropWaiter(this.bySlot[w.place], w)
    else if (w.place === BY_ID) {
      const id = w.id
      const rest = dropWaiter(this.byId.get(id), w)
      if (rest === undefined) this.byId.delete(id)
      else this.byId.set(id, rest)
    }
    w.settle({ ok: false, error: new TimeoutError(w.id, timeoutMs) })
  }
}

module.exports = { ResultWaiters, outcome }

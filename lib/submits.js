'use strict'
// Coalesces `submit()` calls made in one tick into one engine call per run of submits
// with the same task and options — the path `submitMany` takes — while each caller keeps
// its own handle and its own errors. Runs keep their order, so FIFO order is the order
// of the calls.

/** Submits of one task with one options text, in call order. */
class Run {
  constructor(def, opts) {
    this.def = def
    this.opts = opts
    this.texts = []
    this.resolves = []
    this.rejects = []
  }
}

class SubmitBatcher {
  /**
   * @param enqueue `(def, texts, opts) => ids | Promise<ids>`: hands '\n'-joined payload
   *                texts to the engine (throws on a refusal of the whole call)
   * @param handle  `(ids, index) => TaskHandle`
   * @param kick    asks the dispatcher for a pump (which flushes)
   */
  constructor(enqueue, handle, kick) {
    this.enqueue = enqueue
    this.handle = handle
    this.kick = kick
    this.runs = []
  }

  get pending() {
    return this.runs.length > 0
  }

  /** A promise of the handle of one task, submitted with the next flush. */
  add(def, text, opts) {
    let run = this.runs.at(-1)
    if (run === undefined || run.def !== def || run.opts !== opts) {
      run = new Run(def, opts)
      this.runs.push(run)
    }
    return new Promise((resolve, reject) => {
      run.texts.push(text)
      run.resolves.push(resolve)
      run.rejects.push(reject)
      this.kick()
    })
  }

  /** Submits every pending run, in order. */
  flush() {
    const runs = this.runs
    if (runs.length === 0) return
    this.runs = []
    for (const run of runs) this.#submit(run)
  }

  #submit(run) {
    let ids
    try {
      ids = this.enqueue(run.def, run.texts.length === 1 ? run.texts[0] : run.texts.join('\n'), run.opts)
    } catch (err) {
      if (run.texts.length === 1) return run.rejects[0](err)
      // Refused as a whole: each submit on its own, so each gets its own answer.
      for (let i = 0; i < run.texts.length; i++) {
        const one = new Run(run.def, run.opts)
        one.texts.push(run.texts[i])
        one.resolves.push(run.resolves[i])
        one.rejects.push(run.rejects[i])
        this.#submit(one)
      }
      return
    }
    if (typeof ids === 'string') this.#settle(run, ids)
    else {
      ids.then(
        (ids) => this.#settle(run, ids),
        (err) => {
          for (const reject of run.rejects) reject(err)
        },
      )
    }
  }

  #settle(run, ids) {
    const { resolves } = run
    if (resolves.length === 1) return resolves[0](this.handle(ids, -1))
    for (let i = 0; i < resolves.length; i++) resolves[i](this.handle(ids, i))
  }
}

module.exports = { SubmitBatcher }

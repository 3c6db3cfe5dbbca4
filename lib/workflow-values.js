'use strict'
// The engine plans workflows (crates/engine/src/workflow.rs) without ever seeing their
// payloads and results: it gets stand-ins, `{ "$ref": n }`, and the values stay here.
// So any value JSON.parse gives (any depth, lone surrogates) passes from step to step
// exactly. An array payload stands as an array of stand-ins: the planner still sees an
// argument list to prepend the previous result to; `null` stays null (no payload).

class WorkflowValues {
  #values = []

  /** A stand-in for `value`. */
  ref(value) {
    this.#values.push(value)
    return { $ref: this.#values.length - 1 }
  }

  /** A plan (or part of one) with its stand-ins replaced by their values. */
  resolve(x) {
    if (Array.isArray(x)) return x.map((v) => this.resolve(v))
    if (x !== null && typeof x === 'object' && typeof x.$ref === 'number') return this.#values[x.$ref]
    return x
  }

  /** `spec` (as built by sig/chain/group/chord) with each payload as stand-ins. */
  spec(spec) {
    if ('sig' in spec) {
      const out = { ...spec }
      if (spec.payload !== undefined && spec.payload !== null) {
        out.payload = Array.isArray(spec.payload) ? spec.payload.map((v) => this.ref(v)) : this.ref(spec.payload)
      }
      return out
    }
    if ('chain' in spec) return { ...spec, chain: spec.chain.map((m) => this.#member(m)) }
    if ('group' in spec) return { ...spec, group: spec.group.map((m) => this.#member(m)) }
    if ('chord' in spec) return { ...spec, chord: spec.chord.map((m) => this.#member(m)), body: this.#member(spec.body) }
    return spec // not a workflow: the engine says what is wrong with it
  }

  #member(m) {
    return m !== null && typeof m === 'object' && !Array.isArray(m) ? this.spec(m) : m
  }
}

/** The JSON text of `spec` as the engine reads it (payloads as stand-ins). */
function engineSpecText(spec) {
  return JSON.stringify(spec !== null && typeof spec === 'object' ? new WorkflowValues().spec(spec) : spec)
}

module.exports = { WorkflowValues, engineSpecText }

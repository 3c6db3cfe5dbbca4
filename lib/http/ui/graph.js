// A workflow as a graph: a chain runs left to right, a group's members stack (they run
// at once), a chord's header group feeds its callback. Each member is a box with its
// state, linking to its task. Members are matched to the spec in depth-first order,
// the order the engine numbers them in.

import { h, stateBadge } from './dom.js'

const arrow = () => h('span', { class: 'g-arrow', 'aria-hidden': 'true' }, '→')

/** The graph of workflow `spec` with `members` ([{ member, name, path, id, state }]). */
export function workflowGraph(spec, members) {
  let next = 0
  const node = (n) => {
    if (n === null || typeof n !== 'object') return h('span', { class: 'g-bad' }, '?')
    if ('sig' in n) {
      const m = members[next++] ?? { name: n.sig, state: 'PENDING', id: null, path: '' }
      const label = [h('span', { class: 'g-name' }, m.name), stateBadge(m.state)]
      return h(
        'div',
        { class: 'g-node', title: m.path, dataset: { member: String(m.member ?? ''), state: m.state } },
        m.id ? h('a', { href: `#/task/${m.id}` }, label) : label,
      )
    }
    if ('chain' in n) {
      const steps = n.chain.map(node)
      return h('div', { class: 'g-chain' }, steps.flatMap((s, i) => (i === 0 ? [s] : [arrow(), s])))
    }
    if ('group' in n) return h('div', { class: 'g-group' }, n.group.map(node))
    if ('chord' in n) {
      const header = h('div', { class: 'g-group g-header' }, n.chord.map(node))
      const body = node(n.body)
      return h('div', { class: 'g-chord' }, header, arrow(), h('div', { class: 'g-callback' }, body))
    }
    return h('span', { class: 'g-bad' }, '?')
  }
  return h('div', { class: 'graph', role: 'figure', 'aria-label': 'workflow graph' }, node(spec))
}

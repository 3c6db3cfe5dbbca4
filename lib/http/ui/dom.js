// Building the page. Every text goes in as a text node (never as HTML), so a payload, a
// log line or an error that holds markup shows as the characters it is.

/** `h('a', { href, class, onclick }, child…)`: an element; strings and numbers become text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else if (c instanceof Node) el.appendChild(c)
    else el.appendChild(document.createTextNode(String(c)))
  }
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

const SVG = 'http://www.w3.org/2000/svg'
/** An SVG element (attributes only; text through `textContent`). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v))
  for (const c of children) {
    if (typeof c === 'string') el.appendChild(document.createTextNode(c))
    else if (c) el.appendChild(c)
  }
  return el
}

/** "3 s ago", "in 2 min": relative to now. */
export function ago(iso, now = Date.now()) {
  if (iso === null || iso === undefined) return '—'
  const ms = new Date(iso).getTime() - now
  const abs = Math.abs(ms)
  const text =
    abs < 1000 ? `${Math.round(abs)} ms` : abs < 60_000 ? `${Math.round(abs / 1000)} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`
  return ms <= 0 ? `${text} ago` : `in ${text}`
}

/** A time as the reader's local time, with milliseconds. */
export function when(iso) {
  if (iso === null || iso === undefined) return '—'
  const d = new Date(iso)
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString()}.${String(d.getMilliseconds()).padStart(3, '0')}`
}

/** A duration in ms, readable. */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

/** A state badge. */
export function stateBadge(state) {
  return h('span', { class: `state s-${String(state).toLowerCase()}`, dataset: { state } }, state)
}

/** Pretty JSON in a <pre> (as text). */
export function json(value) {
  return h('pre', { class: 'json' }, value === undefined ? '—' : JSON.stringify(value, null, 2))
}

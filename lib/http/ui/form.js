// A form for a task's params, generated from its JSON Schema: a field per top-level
// property (a select for an enum, a checkbox for a boolean, a number input for numbers,
// text for strings, JSON for anything else), with defaults filled and required ones
// marked. The server checks the params again (the engine's validator) and its issues
// are shown beside the fields they name.

import { h } from './dom.js'

function typeOf(prop) {
  const t = Array.isArray(prop.type) ? prop.type.filter((x) => x !== 'null') : [prop.type]
  return t.length === 1 ? t[0] : undefined
}

function field(name, prop, required) {
  const id = `param-${name}`
  const kind = Array.isArray(prop.enum) ? 'enum' : typeOf(prop)
  const dflt = prop.default
  let input
  if (kind === 'enum') {
    input = h(
      'select',
      { id, name },
      required ? null : h('option', { value: '' }, '—'),
      prop.enum.map((v) => h('option', { value: JSON.stringify(v), selected: dflt !== undefined && JSON.stringify(dflt) === JSON.stringify(v) }, String(v))),
    )
  } else if (kind === 'boolean') {
    input = h('input', { id, name, type: 'checkbox', checked: dflt === true })
  } else if (kind === 'integer' || kind === 'number') {
    input = h('input', { id, name, type: 'number', step: kind === 'integer' ? '1' : 'any', min: prop.minimum, max: prop.maximum, value: dflt, required })
  } else if (kind === 'string') {
    const type = prop.format === 'email' ? 'email' : prop.format === 'uri' ? 'url' : 'text'
    input = h('input', { id, name, type, value: dflt, required, maxlength: prop.maxLength, placeholder: prop.format })
  } else {
    input = h('textarea', { id, name, rows: 3, class: 'json-input', placeholder: 'JSON' }, dflt === undefined ? '' : JSON.stringify(dflt))
  }
  input.dataset.kind = kind ?? 'json'
  return h(
    'div',
    { class: 'field', dataset: { param: name } },
    h('label', { for: id }, name, required ? h('span', { class: 'req', title: 'required' }, ' *') : null, kind && kind !== 'enum' ? h('span', { class: 'type' }, ` ${kind}`) : null),
    input,
    prop.description ? h('small', {}, prop.description) : null,
    h('div', { class: 'issue', role: 'alert' }),
  )
}

/** The form's fields for `schema` (null: a single JSON field for the whole payload). */
export function paramsForm(schema) {
  const props = schema && typeof schema === 'object' && schema.properties && typeof schema.properties === 'object' ? schema.properties : null
  if (props === null) {
    return h('div', { class: 'fields' }, field('payload', { description: 'The payload, as a JSON object' }, false))
  }
  const required = new Set(Array.isArray(schema.required) ? schema.required : [])
  return h('div', { class: 'fields', dataset: { schema: 'yes' } }, Object.entries(props).map(([name, prop]) => field(name, prop ?? {}, required.has(name))))
}

/** The params the fields hold; a field holding bad JSON throws, naming it. */
export function collectParams(fields) {
  const out = {}
  for (const el of fields.querySelectorAll('input, select, textarea')) {
    const kind = el.dataset.kind
    if (kind === 'boolean') out[el.name] = el.checked
    else if (el.value === '') continue
    else if (kind === 'enum') out[el.name] = JSON.parse(el.value)
    else if (kind === 'integer' || kind === 'number') out[el.name] = Number(el.value)
    else if (kind === 'string') out[el.name] = el.value
    else {
      try {
        out[el.name] = JSON.parse(el.value)
      } catch (err) {
        throw new Error(`${el.name}: not valid JSON (${err.message})`)
      }
    }
  }
  if (fields.dataset.schema !== 'yes') return out.payload ?? {}
  return out
}

/** Shows the server's issues ([{ path, message }]) beside their fields; the rest in `general`. */
export function showIssues(fields, issues, general) {
  for (const el of fields.querySelectorAll('.issue')) el.textContent = ''
  const rest = []
  for (const issue of issues) {
    const name = String(issue.path ?? '').replace(/^\//, '').split('/')[0]
    const box = name === '' ? null : fields.querySelector(`.field[data-param="${CSS.escape(name)}"] .issue`)
    if (box) box.textContent = issue.message
    else rest.push(`${issue.path || '(payload)'}: ${issue.message}`)
  }
  general.textContent = rest.join('\n')
}

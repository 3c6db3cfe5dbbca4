// Talking to the taskloom server this page came from: the API (`/api/v1/…`) and the
// dashboard's reads (`/ui/api/…`). The token, when the server needs one, goes in the
// Authorization header, never in a cookie: a page on another site cannot act with it.

/** Where the server mounted the API (the page lives at `<base>/ui/`). */
export const BASE = location.pathname.replace(/\/ui\/.*$/, '')

const TOKEN_KEY = 'taskloom.token'
let token = sessionStorage.getItem(TOKEN_KEY)
let asking = null

/** Shows the token dialog; resolves once a token was entered. */
function askToken() {
  asking ??= new Promise((resolve) => {
    const dialog = document.getElementById('token')
    const form = document.getElementById('token-form')
    form.onsubmit = (e) => {
      e.preventDefault()
      token = form.token.value
      sessionStorage.setItem(TOKEN_KEY, token)
      dialog.close()
      asking = null
      resolve()
    }
    dialog.showModal()
  })
  return asking
}

function headers(extra = {}) {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra
}

/** An error the API answered: its status and its `detail` (and `errors` for bad params). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`)
    this.status = status
    this.body = body
  }
}

/** `api('/api/v1/jobs/…', { method, body })` → the JSON answer (null for 204). */
export async function api(path, { method = 'GET', body } = {}) {
  for (;;) {
    const res = await fetch(BASE + path, {
      method,
      headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (res.status === 401) {
      await askToken()
      continue
    }
    const text = await res.text()
    const parsed = text === '' ? null : JSON.parse(text)
    if (!res.ok) throw new ApiError(res.status, parsed)
    return { body: parsed, headers: res.headers }
  }
}

/**
 * Follows the server's event stream (`/ui/api/events`), calling `onBatch(batch)` for
 * each batch and `onLive(true|false)` as the connection comes and goes; reconnects
 * with a growing pause. A fetch stream rather than EventSource, so the token can go in
 * a header.
 */
export function followEvents(onBatch, onLive) {
  let pause = 500
  const run = async () => {
    try {
      const res = await fetch(`${BASE}/ui/api/events`, { headers: headers(), cache: 'no-store' })
      if (res.status === 401) {
        await askToken()
        return run()
      }
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`)
      onLive(true)
      pause = 500
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n')
          if (data !== '') onBatch(JSON.parse(data))
        }
      }
    } catch {
      // dropped or refused: try again below
    }
    onLive(false)
    setTimeout(run, pause)
    pause = Math.min(pause * 2, 10_000)
  }
  run()
}

// The `taskloom` command, run as a real program in child processes against a SQLite
// file; `top` in a real terminal (tmux), read back with capture-pane.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync, execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Executor } from '../index.mjs'
import { spawnNode } from './support/processes.mjs'

const BIN = fileURLToPath(new URL('../bin/taskloom.js', import.meta.url))

function tmpStore() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-cli-'))
  return { dir, store: `sqlite:${path.join(dir, 'tasks.db')}` }
}

function cli(args, env = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, TASKLOOM_STORE: '', ...env } })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

async function seed(store) {
  const ex = new Executor({ store })
  ex.register('add', ([a, b]) => a + b, { queue: 'math' })
  ex.register('boom', () => {
    throw new Error('kaput')
  })
  const ok = await ex.submit('add', [1, 2])
  const bad = await ex.submit('boom', null)
  await ok.result()
  await bad.result().catch(() => {})
  await ex.schedule('add', '0 * * * *', [3, 4], { id: 'hourly' })
  await ex.close()
  // A producer leaves one task waiting.
  const producer = new Executor({ store, worker: false })
  producer.register('add', () => 0, { queue: 'math' })
  const waiting = await producer.submit('add', [5, 6])
  await producer.close()
  return { ok: ok.id, bad: bad.id, waiting: waiting.id }
}

test('taskloom counts, queues, list, info and schedules read the store, as tables and as JSON', async () => {
  const { dir, store } = tmpStore()
  const ids = await seed(store)
  const counts = cli(['counts', '--store', store, '--json'])
  assert.equal(counts.code, 0, counts.err)
  assert.deepEqual({ ...JSON.parse(counts.out), RECEIVED: 0, STARTED: 0, RETRY: 0, REVOKED: 0 }, {
    PENDING: 1, RECEIVED: 0, STARTED: 0, RETRY: 0, SUCCESS: 1, FAILURE: 1, REVOKED: 0,
  })
  const queues = cli(['queues', '--store', store])
  assert.equal(queues.code, 0, queues.err)
  assert.match(queues.out, /^QUEUE\s+PENDING/m)
  assert.match(queues.out, /^math\s+1\s+0\s+0\s+0\s+1\s+0\s+0$/m)
  assert.match(queues.out, /^default\s+0\s+0\s+0\s+0\s+0\s+1\s+0$/m)

  const list = JSON.parse(cli(['list', '--store', store, '--json', '--state', 'FAILURE']).out)
  assert.deepEqual(list.tasks.map((t) => t.id), [ids.bad])
  const page = cli(['list', '--store', store, '--limit', '2'])
  assert.equal(page.code, 0, page.err)
  assert.equal(page.out.split('\n').filter((l) => /^[0-9a-f]{8}-/.test(l)).length, 2)
  assert.match(page.out, /^more: --cursor \S+$/m, 'a cursor for the next page')

  const info = cli(['info', ids.bad, '--store', store])
  assert.equal(info.code, 0, info.err)
  assert.match(info.out, /^state\s+FAILURE$/m)
  assert.match(info.out, /kaput/)
  assert.equal(JSON.parse(cli(['info', ids.ok, '--store', store, '--json']).out).result, 3)

  const schedules = cli(['schedules', '--store', store])
  assert.match(schedules.out, /^hourly\s+add\s+0 \* \* \* \*\s+UTC\s+no\s+\d{4}-\d\d-\d\d \d\d:00:00$/m)
  // The store also comes from TASKLOOM_STORE.
  assert.equal(JSON.parse(cli(['counts', '--json'], { TASKLOOM_STORE: store }).out).SUCCESS, 1)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('taskloom cancel revokes a waiting task; a finished one exits 1', async () => {
  const { dir, store } = tmpStore()
  const ids = await seed(store)
  const r = cli(['cancel', ids.waiting, '--store', store])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, new RegExp(`cancelled ${ids.waiting}`))
  assert.equal(JSON.parse(cli(['info', ids.waiting, '--store', store, '--json']).out).state, 'REVOKED')
  const again = cli(['cancel', ids.ok, '--store', store])
  assert.equal(again.code, 1)
  assert.match(again.out, /already finished/)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('bad usage exits 2 naming the problem; a bad store or id exits 1', () => {
  const { dir, store } = tmpStore()
  const cases = [
    [['frob', '--store', store], 2, /unknown command 'frob'/],
    [['counts'], 2, /no store: pass --store/],
    [['counts', '--store', 'memory'], 2, /memory store lives inside one process/],
    [['counts', '--store', store, '--bogus'], 2, /--bogus/],
    [['counts', '--store', store, '--state', 'SUCCESS'], 2, /'counts' does not take --state/],
    [['list', '--store', store, '--state', 'DONE'], 2, /--state must be one of/],
    [['list', '--store', store, '--limit', 'ten'], 2, /--limit must be a positive integer, got 'ten'/],
    [['info', '--store', store], 2, /needs a task id/],
    [['info', 'not-an-id', '--store', store], 1, /not a task id/],
    [['info', '0190a5a4-0000-7000-8000-000000000000', '--store', store], 1, /no task with id/],
    [['counts', '--store', 'postgres://x'], 1, /store/],
    [['serve', '--store', store], 2, /needs --tasks/],
    [['serve', '--store', store, '--http', 'port'], 2, /--http must be \[host:\]port/],
    [['serve', '--store', store, '--http', '0.0.0.0:0'], 2, /would open the API to the network: give a `token`.*TASKLOOM_HTTP_TOKEN/],
  ]
  for (const [args, code, message] of cases) {
    const r = cli(args)
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`)
    assert.match(r.err, message, args.join(' '))
  }
  assert.equal(cli(['--version']).out.trim(), JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url))).version)
  assert.match(cli(['--help']).out, /^Usage: taskloom <command>/)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('taskloom serve runs the handlers its --tasks module registers, until SIGTERM', async () => {
  const { dir, store } = tmpStore()
  const tasks = path.join(dir, 'tasks.mjs')
  fs.writeFileSync(tasks, "export default (ex) => { ex.register('double', (x) => x * 2, { queue: 'work' }) }\n")
  const child = spawnNode([BIN, 'serve', '--store', store, '--tasks', tasks, '--concurrency', '4'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (b) => (err += b))
  let exited = null
  child.on('exit', (code) => (exited = code))
  while (!err.includes('serving')) {
    assert.equal(exited, null, `serve exited early: ${err}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.match(err, /serving 1 task\(s\) \(double\)/)
  const producer = new Executor({ store, worker: false })
  producer.register('double', () => 0, { queue: 'work' })
  const handles = await producer.submitMany('double', [1, 2, 3])
  assert.deepEqual(await Promise.all(handles.map((h) => h.result())), [2, 4, 6])
  await producer.close()
  assert.equal(exited, null, 'serve keeps running while it waits for work')
  child.kill('SIGTERM')
  const code = exited ?? (await new Promise((r) => child.on('exit', r)))
  assert.equal(code, 0)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('taskloom serve --http serves the HTTP API: beside a worker, or alone in front of workers elsewhere', async () => {
  const { dir, store } = tmpStore()
  const tasks = path.join(dir, 'tasks.mjs')
  fs.writeFileSync(tasks, "export default (ex) => { ex.register('double', (x) => x.n * 2, { params: { n: 'integer' } }) }\n")
  const start = async (args, env = {}) => {
    const child = spawnNode([BIN, 'serve', '--store', store, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } })
    let err = ''
    child.stderr.on('data', (b) => (err += b))
    child.exited = new Promise((resolve) => child.on('exit', resolve))
    for (let i = 0; !/HTTP API on (\S+)/.test(err); i++) {
      assert.ok(i < 500, `no API after 10 s: ${err}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    child.url = /HTTP API on (\S+)/.exec(err)[1]
    return child
  }
  const worker = await start(['--tasks', tasks, '--http', '127.0.0.1:0'])
  const api = await start(['--http', '0'], { TASKLOOM_HTTP_TOKEN: 'a-long-secret' })
  try {
    const auth = { authorization: 'Bearer a-long-secret', 'content-type': 'application/json' }
    assert.equal((await fetch(`${api.url}/api/v1/tasks`)).status, 401)
    const tasksSeen = await (await fetch(`${api.url}/api/v1/tasks`, { headers: auth })).json()
    assert.deepEqual(tasksSeen.map((t) => t.name), ['double'])
    const bad = await fetch(`${api.url}/api/v1/tasks/double/$execute`, { method: 'POST', headers: auth, body: '{"params":{"n":"x"}}' })
    assert.equal(bad.status, 400)
    const r = await (await fetch(`${api.url}/api/v1/tasks/double/$execute`, { method: 'POST', headers: auth, body: '{"params":{"n":21}}' })).json()
    const stream = await (await fetch(`${api.url}/api/v1/jobs/${r.job_id}/$stream`, { headers: auth })).text()
    assert.match(stream, /"status":"completed"/)
    const job = await (await fetch(`${worker.url}/api/v1/jobs/${r.job_id}`)).json()
    assert.equal(job.result, 42, 'the worker\'s own API sees the same job')
  } finally {
    worker.kill('SIGTERM')
    api.kill('SIGTERM')
    assert.equal(await worker.exited, 0)
    assert.equal(await api.exited, 0)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('taskloom top shows live counts in a terminal and quits on q', async () => {
  const { dir, store } = tmpStore()
  await seed(store)
  const session = `taskloom-top-${process.pid}`
  const tmux = (...args) => execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' })
  tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '30', `${process.execPath} ${BIN} top --store ${store} --interval 200; sleep 30`)
  try {
    const screen = async (re) => {
      for (let i = 0; i < 100; i++) {
        const text = tmux('capture-pane', '-p', '-t', session)
        if (re.test(text)) return text
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`the screen never matched ${re}:\n${tmux('capture-pane', '-p', '-t', session)}`)
    }
    const first = await screen(/^math\s+1\s+0\s+0\s+0\s+1/m)
    assert.match(first, /taskloom top/)
    assert.match(first, /q or Ctrl-C to quit/)
    // Work done elsewhere shows up without a keypress: the view refreshes in place.
    const ex = new Executor({ store })
    ex.register('add', ([a, b]) => a + b, { queue: 'math' })
    await ex.onIdle()
    await ex.close()
    const later = await screen(/^math\s+0\s+0\s+0\s+0\s+2/m)
    assert.match(later, /finished\/s \d+\.\d/)
    assert.equal(later.match(/taskloom top/g).length, 1, 'redrawn in place, not scrolled')
    tmux('send-keys', '-t', session, 'q')
    await screen(/^\$?\s*$/m) // the program ended (the pane shows what is left)
    for (let i = 0; i < 100; i++) {
      const cmd = tmux('list-panes', '-t', session, '-F', '#{pane_current_command}').trim()
      if (cmd === 'sleep') break
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(tmux('list-panes', '-t', session, '-F', '#{pane_current_command}').trim(), 'sleep', 'top exited on q')
  } finally {
    tmux('kill-server')
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

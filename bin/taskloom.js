#!/usr/bin/env node
'use strict'
// The `taskloom` command: look at and steer a store from a terminal, or serve a worker.
// Exit codes: 0 done, 1 the operation failed (no such task, a store error), 2 bad usage.

const { parseArgs } = require('node:util')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { Executor } = require('../index.js')
const { countsTable, tasksTable, schedulesTable, infoText, table, STATES } = require('../lib/cli/format.js')
const { top } = require('../lib/cli/top.js')

const USAGE = `Usage: taskloom <command> [options]

Commands:
  list                 stored tasks, oldest first (--state, --name, --queue, --limit, --cursor)
  info <id>            everything known about one task
  counts               tasks per state
  queues               tasks per queue and state
  schedules            cron schedules with their next run
  cancel <id>          cancels a task (a running one is aborted where it runs)
  top                  live counts and finished tasks per second (--interval ms)
  serve                runs a worker: --tasks <module> registers the handlers
                       (its default export is called with the executor);
                       --http [host:]port also serves the HTTP API (taskloom/http),
                       its token from $TASKLOOM_HTTP_TOKEN; with --http alone, the
                       API of a producer (workers elsewhere run the tasks)

Options:
  --store <url>        sqlite:<path>, redis://… (default: $TASKLOOM_STORE)
  --json               machine-readable output
  -h, --help           this help
  -v, --version        the version`

const OPTIONS = {
  store: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'v', default: false },
  state: { type: 'string' },
  name: { type: 'string' },
  queue: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  interval: { type: 'string' },
  tasks: { type: 'string' },
  concurrency: { type: 'string' },
  queues: { type: 'string' },
  http: { type: 'string' },
}

/** Which options each command takes (besides --store, --json, --help). */
const COMMANDS = {
  list: { args: 0, options: ['state', 'name', 'queue', 'limit', 'cursor'] },
  info: { args: 1, options: [] },
  counts: { args: 0, options: [] },
  queues: { args: 0, options: [] },
  schedules: { args: 0, options: [] },
  cancel: { args: 1, options: [] },
  top: { args: 0, options: ['interval'] },
  serve: { args: 0, options: ['tasks', 'concurrency', 'queues', 'http'] },
}

class UsageError extends Error {}

function positiveInt(text, flag) {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got '${text}'`)
  return n
}

function parse(argv) {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(err.message)
  }
  const { values, positionals } = parsed
  if (values.help || values.version) return { values, command: null, args: [] }
  const [command, ...args] = positionals
  if (command === undefined) throw new UsageError('no command given')
  const spec = COMMANDS[command]
  if (spec === undefined) throw new UsageError(`unknown command '${command}' (expected ${Object.keys(COMMANDS).join(', ')})`)
  if (args.length !== spec.args) {
    throw new UsageError(spec.args === 0 ? `'${command}' takes no arguments, got '${args.join(' ')}'` : `'${command}' needs a task id`)
  }
  for (const key of Object.keys(values)) {
    if (['store', 'json', 'help', 'version'].includes(key) || spec.options.includes(key)) continue
    if (values[key] === OPTIONS[key].default) continue
    throw new UsageError(`'${command}' does not take --${key}`)
  }
  values.store ??= process.env.TASKLOOM_STORE || undefined
  if (values.store === undefined) throw new UsageError('no store: pass --store <url> or set TASKLOOM_STORE')
  if (values.store === 'memory') throw new UsageError("the memory store lives inside one process: pass a shared store (sqlite:<path>, redis://…)")
  return { values, command, args }
}

function print(values, data, human) {
  process.stdout.write((values.json ? JSON.stringify(data, null, 2) : human(data)) + '\n')
}

async function run(command, args, values) {
  if (command === 'serve') return serve(values)
  const ex = new Executor({ store: values.store, worker: false })
  ex.on('error', () => {}) // faults surface as the failing call's error
  try {
    switch (command) {
      case 'list': {
        const opts = {}
        if (values.state !== undefined) {
          if (!STATES.includes(values.state)) throw new UsageError(`--state must be one of ${STATES.join(', ')}, got '${values.state}'`)
          opts.state = values.state
        }
        if (values.name !== undefined) opts.name = values.name
        if (values.queue !== undefined) opts.queue = values.queue
        if (values.limit !== undefined) opts.limit = positiveInt(values.limit, 'limit')
        if (values.cursor !== undefined) opts.cursor = values.cursor
        const page = await ex.list(opts)
        print(values, page, (p) => tasksTable(p.tasks) + (p.cursor ? `\nmore: --cursor ${p.cursor}` : ''))
        break
      }
      case 'info':
        print(values, await ex.task(args[0]).info(), infoText)
        break
      case 'counts': {
        const c = await ex.counts()
        print(values, c.total, (t) => table(STATES, [STATES.map((s) => t[s] ?? 0)]))
        break
      }
      case 'queues':
        print(values, await ex.counts(), countsTable)
        break
      case 'schedules':
        print(values, await ex.schedules(), schedulesTable)
        break
      case 'cancel': {
        const cancelled = await ex.task(args[0]).cancel()
        print(values, { id: args[0], cancelled }, (r) => (r.cancelled ? `cancelled ${r.id}` : `${r.id} had already finished`))
        if (!cancelled) process.exitCode = 1
        break
      }
      case 'top': {
        const intervalMs = values.interval === undefined ? 1000 : positiveInt(values.interval, 'interval')
        const stop = new AbortController()
        process.once('SIGINT', () => stop.abort())
        process.once('SIGTERM', () => stop.abort())
        if (process.stdin.isTTY) {
          process.stdin.setRawMode(true)
          process.stdin.on('data', (b) => {
            if (b[0] === 0x71 || b[0] === 0x03) stop.abort() // q, Ctrl-C
          })
        }
        await top(ex, values.store, { intervalMs, out: process.stdout, signal: stop.signal })
        if (process.stdin.isTTY) process.stdin.setRawMode(false)
        process.stdin.pause()
        break
      }
    }
  } finally {
    await ex.close()
  }
}

/** A worker on the store, its handlers registered by the `--tasks` module, until SIGINT/SIGTERM. */
/** `--http 8000` or `--http 0.0.0.0:8000` → { host, port }. */
function httpAddress(text) {
  const m = /^(?:(.+):)?([0-9]{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--http must be [host:]port, such as 8000 or 127.0.0.1:8000, got '${text}'`)
  return { host: m[1]?.replace(/^\[(.*)\]$/, '$1') ?? '127.0.0.1', port }
}

async function serve(values) {
  if (values.tasks === undefined && values.http === undefined) {
    throw new UsageError("'serve' needs --tasks <module> (its default export registers handlers), or --http to serve the API only")
  }
  const address = values.http === undefined ? undefined : httpAddress(values.http)
  const options = { store: values.store }
  if (values.concurrency !== undefined) options.concurrency = positiveInt(values.concurrency, 'concurrency')
  if (values.queues !== undefined) options.queues = values.queues.split(',').filter((q) => q !== '')
  let setup
  if (values.tasks !== undefined) {
    const mod = await import(pathToFileURL(path.resolve(values.tasks)).href)
    setup = mod.default ?? mod.register
    if (typeof setup !== 'function') {
      throw new UsageError(`${values.tasks} must export a function (default export) that registers tasks on the executor it is given`)
    }
  } else {
    options.worker = false
  }
  const ex = new Executor(options)
  ex.on('error', (err) => console.error(`taskloom: ${err.message}`))
  if (setup !== undefined) await setup(ex)
  const names = ex.tasks().map((t) => t.name)
  if (setup !== undefined) console.error(`taskloom: serving ${names.length} task(s) (${names.join(', ')}) on ${values.store} as worker ${ex.workerId}`)
  let server
  if (address !== undefined) {
    const { serve: serveHttp } = require('../lib/http/index.js')
    try {
      server = await serveHttp(ex, { ...address, token: process.env.TASKLOOM_HTTP_TOKEN || undefined })
    } catch (err) {
      await ex.close()
      throw err instanceof TypeError ? new UsageError(`--http: ${err.message} (the token comes from $TASKLOOM_HTTP_TOKEN)`) : err
    }
    console.error(`taskloom: HTTP API on ${server.url}${process.env.TASKLOOM_HTTP_TOKEN ? ' (bearer token required)' : ''}`)
  }
  // The store wakes the worker through a handle that does not keep Node running: this does.
  const keepAlive = setInterval(() => {}, 60_000)
  await new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  clearInterval(keepAlive)
  if (server !== undefined) await server.close()
  await ex.close()
}

async function main() {
  let parsed
  try {
    parsed = parse(process.argv.slice(2))
  } catch (err) {
    console.error(`taskloom: ${err.message}\n\n${USAGE}`)
    process.exit(2)
  }
  const { values, command, args } = parsed
  if (values.help) return console.log(USAGE)
  if (values.version) return console.log(require('../package.json').version)
  try {
    await run(command, args, values)
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`taskloom: ${err.message}`)
      process.exit(2)
    }
    console.error(`taskloom: ${err.message}`)
    process.exit(1)
  }
}

main()

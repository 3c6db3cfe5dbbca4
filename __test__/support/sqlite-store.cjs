'use strict'
// Preloaded (NODE_OPTIONS=--require) to run the public-API suites on the SQLite store:
// every Executor created without a `store` option gets a fresh database file. Child
// processes inherit NODE_OPTIONS, so fixtures run on SQLite too.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const taskloom = require('../../index.js')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-sqlite-suite-'))
let files = 0
const MemoryDefault = taskloom.Executor

class SqliteExecutor extends MemoryDefault {
  constructor(options = {}) {
    const plain = options !== null && typeof options === 'object' && !Array.isArray(options)
    if (plain && options.store === undefined && process.env.TASKLOOM_STORE === undefined) {
      options = { ...options, store: `sqlite:${path.join(dir, `suite-${process.pid}-${++files}.db`)}` }
    }
    super(options)
  }
}

taskloom.Executor = SqliteExecutor
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))

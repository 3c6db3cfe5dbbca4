'use strict'
// Preloaded (NODE_OPTIONS=--require) to run the public-API suites on the Redis store:
// every Executor created without a `store` option uses the test's redis-server
// (TASKLOOM_TEST_REDIS_URL, started by run-on-redis.mjs) under a namespace of its own.
// Child processes inherit NODE_OPTIONS, so fixtures run on Redis too.

const taskloom = require('../../index.js')

const url = process.env.TASKLOOM_TEST_REDIS_URL
if (!url) throw new Error('redis-store.cjs needs TASKLOOM_TEST_REDIS_URL (run it through run-on-redis.mjs)')
let executors = 0
const MemoryDefault = taskloom.Executor

class RedisExecutor extends MemoryDefault {
  constructor(options = {}) {
    const plain = options !== null && typeof options === 'object' && !Array.isArray(options)
    if (plain && options.store === undefined && process.env.TASKLOOM_STORE === undefined) {
      options = { namespace: `suite-${process.pid}-${++executors}`, ...options, store: url }
    }
    super(options)
  }
}

taskloom.Executor = RedisExecutor

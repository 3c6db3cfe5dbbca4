// CommonJS: require() gives the same API.
const assert = require('node:assert/strict')
const { Executor, TaskFailedError } = require('taskloom')
const { createHandler } = require('taskloom/http')
assert.equal(typeof createHandler, 'function')

;(async () => {
  const ex = new Executor()
  ex.register('boom', () => {
    throw new Error('kaput')
  })
  await assert.rejects((await ex.submit('boom', null)).result(), TaskFailedError)
  await ex.close()
  console.log(`cjs ok on ${process.version}`)
})().catch((err) => {
  console.error(err)
  process.exit(1)
})

// Which store this run of the suites uses by default: run-on-sqlite.mjs and
// run-on-redis.mjs preload a module (through NODE_OPTIONS) that sets it.
const preloads = process.env.NODE_OPTIONS ?? ''

/** 'memory', 'sqlite' or 'redis'. */
export const suiteStore = preloads.includes('redis-store.cjs') ? 'redis' : preloads.includes('sqlite-store.cjs') ? 'sqlite' : 'memory'

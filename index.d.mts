// Types of the ES module entry (index.mjs): the same declarations as the CommonJS entry,
// re-exported as an ES module, plus its default export (the whole module).
export * from './index.js'
import * as taskloom from './index.js'
export default taskloom

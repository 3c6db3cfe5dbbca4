// taskloom/http (ES modules): the same objects as the CommonJS entry.
import http from './lib/http/index.js'

export const { createHandler, serve } = http
export default http

// TypeScript as an ES module (resolves the `import` condition: index.d.mts), --strict.
import taskloom, { Executor, TaskFailedError } from 'taskloom'

const ex: Executor = new taskloom.Executor()
ex.register<string, number>('len', (s) => s.length)
const failed: typeof TaskFailedError = taskloom.TaskFailedError
void failed
void ex.submit<number>('len', 'abc').then((h) => h.result())

// The HTTP API's types.
import { serve, type HttpServer } from 'taskloom/http'
const started: Promise<HttpServer> = serve(ex, { port: 0, token: 'a-long-token' })
void started

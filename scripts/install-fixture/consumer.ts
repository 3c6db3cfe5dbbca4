// TypeScript, --strict: the public types as a user sees them.
import { Executor, TaskHandle, type TaskInfo } from 'taskloom'

const ex = new Executor({ concurrency: 2 })
ex.register<[number, number], number>('add', ([a, b]) => a + b)
async function main(): Promise<number> {
  const t: TaskHandle<number> = await ex.submit<number>('add', [1, 2])
  const info: TaskInfo = await t.info()
  void info.state
  return t.result()
}
void main

// The HTTP API's types.
import { serve, type HttpServer } from 'taskloom/http'
const started: Promise<HttpServer> = serve(ex, { port: 0, token: 'a-long-token' })
void started

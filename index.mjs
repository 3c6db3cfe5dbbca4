// taskloom's public entry (ES modules): the same objects as the CommonJS entry.
import taskloom from './index.js'

export const {
  Executor,
  TaskHandle,
  TaskloomError,
  StoreError,
  TaskFailedError,
  CircuitOpenError,
  TaskCancelledError,
  TimeoutError,
  TaskTimeoutError,
  NonRetryableError,
  ExecutorClosedError,
  TaskNotFoundError,
} = taskloom
export default taskloom

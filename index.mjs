// taskloom's public entry (ES modules): the same objects as the CommonJS entry.
import taskloom from './index.js'

export const {
  Executor,
  TaskHandle,
  WorkflowHandle,
  sig,
  chain,
  group,
  chord,
  TaskloomError,
  StoreError,
  ParamsError,
  DefinitionConflictError,
  TaskStateError,
  TaskFailedError,
  CircuitOpenError,
  TaskCancelledError,
  TimeoutError,
  TaskTimeoutError,
  NonRetryableError,
  WorkflowError,
  ExecutorClosedError,
  TaskNotFoundError,
} = taskloom
export default taskloom

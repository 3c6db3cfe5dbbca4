//! Every key and channel of a namespace, in one place. `p` is the hash-tagged prefix,
//! `{namespace}`, so that all of a namespace's keys live in one cluster slot. The Lua
//! scripts build the same names from `P` (see `lua/*.lua` and the README's key layout).

use std::fmt::Display;

/// Hash: one task's fields (single letters, decoded in `RedisStore::task_info`).
pub fn task(p: &str, id: impl Display) -> String {
    format!("{p}:t:{id}")
}

/// List: a task's log lines (JSON), the last `MAX_LOGS_PER_TASK` kept.
pub fn log(p: &str, id: impl Display) -> String {
    format!("{p}:log:{id}")
}

/// Hash: a task's artifacts, by number.
pub fn artifacts(p: &str, id: impl Display) -> String {
    format!("{p}:arts:{id}")
}

/// Set: the tasks a worker holds (claimed, not finished).
pub fn owned(p: &str, worker: &str) -> String {
    format!("{p}:owned:{worker}")
}

/// Sorted set: live workers by lease expiry.
pub fn workers(p: &str) -> String {
    format!("{p}:workers")
}

/// Sorted set: processes listening to task events, by registration expiry.
pub fn listeners(p: &str) -> String {
    format!("{p}:listeners")
}

/// Stream: batches of task events for listeners in other processes.
pub fn events(p: &str) -> String {
    format!("{p}:events")
}

/// Pub/sub channel: work, due times, cancels, settled tasks and new events.
pub fn channel(p: &str) -> String {
    format!("{p}:ev")
}

/// Set: paused queues.
pub fn paused(p: &str) -> String {
    format!("{p}:paused")
}

/// Set: the task names workers run.
pub fn names(p: &str) -> String {
    format!("{p}:names")
}

/// Counter: row numbers of tasks (FIFO order).
pub fn seq(p: &str) -> String {
    format!("{p}:seq")
}

/// Stream: ids of finished tasks, one entry per batch, read by processes awaiting many.
pub fn finished(p: &str) -> String {
    format!("{p}:fin")
}

/// Sorted set: every task by row number (listing).
pub fn all(p: &str) -> String {
    format!("{p}:all")
}

/// Hash: tasks per queue and state.
pub fn counts(p: &str) -> String {
    format!("{p}:counts")
}

/// Hash: idempotency key → task id.
pub fn idempotency(p: &str) -> String {
    format!("{p}:keys")
}

/// Hash: schedules by id; sorted set: their next tick.
pub fn schedules(p: &str) -> String {
    format!("{p}:schedules")
}

pub fn schedules_next(p: &str) -> String {
    format!("{p}:schedules:next")
}

/// Hash: the shared registry (each worker's definition of each task).
pub fn definitions(p: &str) -> String {
    format!("{p}:defs")
}

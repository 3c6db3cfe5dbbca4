//! What the engine and a durable store's background thread say to each other: the
//! operations the engine sends (submits, claims, outcomes…), the replies that come back,
//! and the inbox they share. SQLite and Redis speak the same protocol.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Mutex;

use serde_json::Value;

use crate::error::Result;
use crate::task::{TaskId, TaskState};

/// A task to insert.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: TaskId,
    pub name: std::sync::Arc<str>,
    pub queue: std::sync::Arc<str>,
    pub priority: i32,
    pub max_attempts: u32,
    pub payload: compact_str::CompactString,
    pub key: Option<String>,
    pub created_at: u64,
    pub run_at: u64,
    /// The W3C `traceparent` of the span that was active at submit (tracing).
    pub trace: Option<std::sync::Arc<str>>,
}

/// A line of tasks a worker runs: (task name, queue).
pub type Line = (String, String);

/// A task definition a worker published to the store (the shared registry).
#[derive(Debug, Clone)]
pub struct StoredDefinition {
    pub name: String,
    pub worker: String,
    /// The definition as `ex.info(name)` shows it, with `worker`, `pid`, `leaseMs` and
    /// `publishedAt` (JSON).
    pub doc: String,
    /// When the worker's lease runs out (ms); None when it holds none (closed or
    /// recovered as dead).
    pub lease_until: Option<u64>,
}

/// "Claim up to `max` ready tasks named `name`" (definition `def` in this process).
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub def: u32,
    pub name: String,
    /// The queue this worker runs the name in: tasks of the name stored under another
    /// queue are not claimed.
    pub queue: String,
    pub max: u32,
    /// The name's `maxParallel`, held across processes by stores that can (Redis).
    pub max_parallel: Option<u32>,
    /// The name's rate limit, held across processes by stores that can (Redis).
    pub rate: Option<crate::policy::Rate>,
}

/// A task this worker claimed: RECEIVED in the database, leased to this worker (STARTED
/// once its handler starts).
#[derive(Debug, Clone)]
pub struct Adopted {
    pub def: u32,
    pub seq: i64,
    pub id: TaskId,
    pub priority: i32,
    /// The attempt now starting (already counted in the database).
    pub attempt: u32,
    pub payload: String,
    pub created_at: u64,
    pub run_at: Option<u64>,
    pub key: Option<String>,
    /// The error the previous attempt left, as JSON.
    pub error: Option<String>,
    /// Someone asked to cancel it while a worker that then died held it: it is revoked
    /// instead of run (stores that keep the request elsewhere say false).
    pub cancel_requested: bool,
    /// The `traceparent` it was submitted with.
    pub trace: Option<String>,
}

#[derive(Debug)]
pub enum Op {
    /// Insert tasks; reply `Committed { ticket }` (with the existing id when a key matched).
    Insert { ticket: u64, tasks: Vec<NewTask> },
    /// Replace the standing claim request. The writer answers once with what it found,
    /// waiting (parked) until it finds something; an empty list withdraws the request.
    Adopt { wants: Vec<Want>, limit: u32 },
    /// A run's final outcome. `slot` comes back in `Settled` once committed.
    /// `attempt` is the attempts that ran (a task refused or revoked after its claim
    /// did not run the one its claim counted).
    Finish {
        slot: u32,
        /// The task's row; `id` guards against a reused row number.
        seq: i64,
        id: TaskId,
        state: TaskState,
        attempt: u32,
        result: Option<String>,
        error: Option<String>,
        /// When the run started (0: it never did) and ended.
        started_at: u64,
        at: u64,
    },
    /// A failed run that will be retried at `due_at`; `slot` comes back in `Requeued`.
    Retry {
        slot: u32,
        seq: i64,
        id: TaskId,
        error: String,
        due_at: u64,
    },
    Progress {
        id: TaskId,
        percent: f64,
        message: Option<String>,
    },
    Status {
        id: TaskId,
        status: String,
    },
    Log {
        id: TaskId,
        time: u64,
        level: String,
        message: String,
    },
    /// Claimed (RECEIVED) tasks whose handlers started: STARTED.
    Started {
        seqs: Vec<i64>,
        /// The same tasks by id (the Redis store keys tasks by id).
        ids: Vec<TaskId>,
        at: u64,
    },
    /// Claimed tasks this worker will not run after all (it is closing): back to the line.
    Release { ids: Vec<TaskId> },
    /// The lines this worker runs, as (task name, queue) pairs (for its "is there work
    /// for me" answer).
    Names(Vec<Line>),
    /// Task names with their own retention (count, max age); the rest follow the
    /// executor's.
    Retention(Vec<(String, usize, Option<u64>)>),
    /// Event documents (comma separated JSON arrays, see `engine/event_log.rs`) for the
    /// store's event log, which listening processes read.
    Events { docs: String, at: u64 },
    /// Another connection of this process committed (a submit the host wrote itself):
    /// look again for work now, and refresh the outlook.
    Poke,
    /// Reply `Committed { ticket }` once everything sent before has been committed.
    Flush { ticket: u64 },
    /// Commit what is left, give up the lease and end the thread.
    Stop,
}

#[derive(Debug)]
pub enum Reply {
    Committed {
        ticket: u64,
        existing_id: Option<String>,
    },
    Rejected {
        ticket: u64,
        error: String,
    },
    Adopted(Vec<Adopted>),
    Settled(Vec<u32>),
    Requeued(Vec<u32>),
    /// Running tasks of this worker that someone asked (from another process) to cancel.
    CancelRequested(Vec<TaskId>),
    /// The store's writes began failing (disk full, corruption, a refused command): said
    /// once per episode, with the cause. The thread backs off and keeps trying.
    Fault(String),
}

/// What the writer and the engine share.
#[derive(Default)]
pub struct Shared {
    pub replies: Mutex<Vec<Reply>>,
    pub waker: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    /// The database holds unfinished tasks this worker could run (now or later).
    pub has_work: AtomicBool,
    /// The task names changed and `has_work` has not been worked out for them yet.
    pub outlook_stale: AtomicBool,
    /// Counts the host's `mark_stale` calls: a writer clears `outlook_stale` only if none
    /// came since it took in its ops (else an op it has not seen yet would be lost).
    pub stale_marks: AtomicU64,
    /// The earliest `due_at` in the database (ms), 0 when none.
    pub next_due: AtomicU64,
    /// This process listens to task events of other processes: the writer keeps it
    /// registered in the store's listeners.
    pub listening: AtomicBool,
    /// Some other process is registered as a listener: log events for it.
    pub listeners_elsewhere: AtomicBool,
    /// The background thread is in a fault episode (writes failing): everything goes
    /// through it, so that it alone decides when the store has recovered.
    pub failing: AtomicBool,
    /// When (`monotonic_ms`, 0: not now) claimed tasks were put in the inbox that the
    /// host has not taken yet (see `recall_untaken`).
    pub adopted_at: AtomicU64,
}

/// Milliseconds of a monotonic clock (real time: how long the host's thread is away).
pub fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64 + 1
}

impl Shared {
    /// The host sends an op that makes the outlook stale (new names, a submit it wrote
    /// itself): "maybe" until a writer round has taken that op in.
    pub fn mark_stale(&self, send: impl FnOnce()) {
        use std::sync::atomic::Ordering::SeqCst;
        self.outlook_stale.store(true, SeqCst);
        send();
        self.stale_marks.fetch_add(1, SeqCst);
    }

    pub fn deliver(&self, replies: Vec<Reply>) {
        if replies.is_empty() {
            return;
        }
        let claims = replies
            .iter()
            .any(|r| matches!(r, Reply::Adopted(rows) if !rows.is_empty()));
        let mut inbox = self.replies.lock().expect("inbox lock");
        inbox.extend(replies);
        if claims {
            use std::sync::atomic::Ordering::SeqCst;
            let _ = self
                .adopted_at
                .compare_exchange(0, monotonic_ms(), SeqCst, SeqCst);
        }
        drop(inbox);
        self.wake();
    }

    /// The host takes everything in the inbox.
    pub fn take(&self) -> Vec<Reply> {
        let mut inbox = self.replies.lock().expect("inbox lock");
        self.adopted_at
            .store(0, std::sync::atomic::Ordering::SeqCst);
        std::mem::take(&mut *inbox)
    }

    /// Claimed tasks the host has left in the inbox for `hold_ms` or more (its JS thread
    /// is blocked, say): they are taken back — the host finds an empty answer to its
    /// claim instead — and returned, for the background thread to release to other
    /// workers. Under the inbox's lock, so a task is either taken by the host or
    /// recalled, never both.
    pub fn recall_untaken(&self, hold_ms: u64) -> Vec<TaskId> {
        use std::sync::atomic::Ordering::SeqCst;
        let since = self.adopted_at.load(SeqCst);
        if since == 0 || monotonic_ms() < since + hold_ms {
            return Vec::new();
        }
        let mut inbox = self.replies.lock().expect("inbox lock");
        let mut ids = Vec::new();
        for reply in inbox.iter_mut() {
            if let Reply::Adopted(rows) = reply {
                ids.extend(rows.drain(..).map(|r| r.id));
            }
        }
        self.adopted_at.store(0, SeqCst);
        ids
    }

    /// How long until untaken claims are due for recall, if any wait.
    pub fn recall_due_in(&self, hold_ms: u64) -> Option<u64> {
        let since = self.adopted_at.load(std::sync::atomic::Ordering::SeqCst);
        (since != 0).then(|| (since + hold_ms).saturating_sub(monotonic_ms()))
    }

    pub fn wake(&self) {
        if let Some(w) = self.waker.lock().expect("waker lock").as_ref() {
            w();
        }
    }
}

/// What cancelling a task that is not in this process's memory did.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredCancel {
    Revoked,
    /// It runs in another process; that worker aborts it when it sees the request.
    Requested,
    /// This worker (`me`) has claimed it; the claim has not reached its memory yet.
    ClaimedHere,
    AlreadyFinal(TaskState),
}

/// What `ex.retry(id)` or `ex.remove(id)` found in the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActionOutcome {
    Done,
    Missing,
    /// The task is in a state the action does not apply to; nothing changed.
    WrongState(TaskState),
}

/// Which finished tasks `ex.clean(…)` deletes.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanFilter {
    /// Final states only.
    pub states: Vec<TaskState>,
    /// Completed at or before this time (ms).
    pub cutoff: u64,
    pub name: Option<String>,
    pub queue: Option<String>,
    /// At most this many; None: all that match.
    pub limit: Option<u64>,
}

impl CleanFilter {
    pub fn matches(&self, state: TaskState, completed_at: u64, name: &str, queue: &str) -> bool {
        self.states.contains(&state)
            && completed_at <= self.cutoff
            && self.name.as_deref().is_none_or(|n| n == name)
            && self.queue.as_deref().is_none_or(|q| q == queue)
    }
}

/// A listening process reads the store's event log at least this often (ms).
pub const EVENTS_READ_MS: u64 = 50;

/// Deletions go a chunk per transaction or script call, so that the store's writer (and
/// other processes) get their turn in between.
pub const ACTION_CHUNK: u64 = 500;

/// Filter and page of `list`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub state: Option<String>,
    pub name: Option<String>,
    pub queue: Option<String>,
    pub limit: Option<f64>,
    pub cursor: Option<String>,
    /// `"oldest"` (the default) or `"newest"` first.
    pub order: Option<String>,
}

impl ListQuery {
    /// Whether the page runs newest first; an unknown order is refused, naming it.
    pub fn newest_first(&self) -> crate::error::Result<bool> {
        match self.order.as_deref() {
            None | Some("oldest") => Ok(false),
            Some("newest") => Ok(true),
            Some(other) => Err(crate::error::EngineError::invalid(format!(
                "`order` must be 'oldest' or 'newest', got '{other}'"
            ))),
        }
    }
}

/// A durable store as the engine sees it: a background thread that takes [`Op`]s and
/// answers with [`Reply`]s (waking the host through the waker), plus reads and the few
/// writes made on the caller's thread.
pub trait DurableStore: Send {
    fn send(&self, op: Op);
    fn take_replies(&self) -> Vec<Reply>;
    fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>);
    /// Whether the store holds unfinished tasks this worker could run ("yes" until known).
    fn has_work(&self) -> bool;
    /// The earliest due time of a delayed task or retry, if any.
    fn next_due(&self) -> Option<u64>;
    /// The lines (task name, queue) this worker runs.
    fn set_names(&self, names: Vec<Line>);
    /// Whether the background thread is still there to take ops.
    fn is_running(&self) -> bool;
    /// Sends what is left, gives up this worker's lease and ends the background thread.
    fn stop(&mut self);
    /// Whether tasks may have finished elsewhere since the last call (then awaited tasks
    /// held elsewhere are looked up).
    fn changed(&mut self) -> bool;
    /// The host awaits tasks held elsewhere: it wants to be woken when some finish.
    fn set_watching(&self, _watching: bool) {}
    /// Until when a task name is held back by a rate limit shared across processes, as
    /// last seen (stores that hold rate limits themselves: Redis).
    fn shared_rate_wait(&self, _name: &str) -> Option<u64> {
        None
    }
    /// This process listens to task events of other processes (or stops): it is
    /// registered as a listener in the store, so that writers log events for it.
    fn set_remote_events(&self, _on: bool) {}
    /// Whether some other process listens (then this one logs its events).
    fn listeners_elsewhere(&self) -> bool {
        false
    }
    /// Whether to look for logged events now (a notice came, or it is time to poll).
    fn events_due(&self, _now: u64) -> bool {
        false
    }
    /// Event documents other processes logged since the last read, each a JSON array
    /// of documents (see `Event::Remote`).
    fn read_events(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// Ids of tasks that finished since the last call (or since watching began), from a
    /// log of finishes the store keeps; None when it keeps none or cannot tell. Lets a
    /// process awaiting many tasks look only at those that finished.
    fn finished_since(&mut self) -> Option<Vec<TaskId>> {
        None
    }
    /// Whether the store announces tasks finished elsewhere (then `changed` is cheap and
    /// exact, and the host is woken when it turns true while watching).
    fn notifies(&self) -> bool {
        false
    }
    fn state(&self, id: &TaskId) -> Result<Option<TaskState>>;
    fn info(&self, id: &TaskId) -> Result<Option<serde_json::Value>>;
    /// Of `ids`, those that have finished, with their info, and those that are gone
    /// (removed, drained, trimmed by retention) as `{ "id": …, "missing": true }`.
    fn finished_among(&self, ids: &[TaskId]) -> Result<Vec<serde_json::Value>>;
    /// Cancels a task held by no one in this process (`me` is this worker).
    fn cancel(&mut self, id: &TaskId, now: u64, me: &str) -> Result<Option<StoredCancel>>;
    /// Inserts a few tasks on the caller's thread; the existing id if a key matched.
    fn insert_now(&mut self, tasks: &[NewTask], now: u64) -> Result<Option<String>>;
    /// A page of tasks, oldest first: `{ tasks, cursor }`.
    fn list(&self, q: &ListQuery, limit: usize, after: i64) -> Result<serde_json::Value>;
    /// Tasks per (queue, state).
    fn counts(&self) -> Result<Vec<(String, TaskState, u64)>>;
    /// The task holding idempotency key `key`, if any.
    fn id_by_key(&self, key: &str) -> Result<Option<TaskId>>;
    /// Every cron schedule: its definition (JSON) and its next tick (ms).
    fn schedules(&self) -> Result<Vec<(String, u64)>>;
    /// Inserts or replaces schedule `id` with its definition and next tick.
    fn put_schedule(&mut self, id: &str, doc: &str, next_at: u64) -> Result<()>;
    /// Moves schedule `id`'s next tick forward to `next_at` (never back: processes
    /// that fired the same tick may report it in any order).
    fn advance_schedule(&mut self, id: &str, next_at: u64) -> Result<()>;
    /// Removes schedule `id`; whether it existed.
    fn remove_schedule(&mut self, id: &str) -> Result<bool>;
    /// Publishes worker `worker`'s definition of task `name` (replacing its earlier one),
    /// and forgets definitions of `name` published more than `stale_ms` ago by workers
    /// that hold no lease any more.
    fn publish_definition(
        &mut self,
        name: &str,
        worker: &str,
        doc: &str,
        now: u64,
        stale_ms: u64,
    ) -> Result<()>;
    /// The published definitions, of one task name or of all, with their workers' leases.
    fn definitions(&self, name: Option<&str>) -> Result<Vec<StoredDefinition>>;
    /// Pauses or resumes `queue` for every process sharing the store (claims skip a
    /// paused queue); whether that changed anything.
    fn set_queue_paused(&mut self, queue: &str, paused: bool, now: u64) -> Result<bool>;
    /// The paused queues, by name.
    fn paused_queues(&self) -> Result<Vec<String>>;
    /// `ex.retry(id)`: a FAILURE or REVOKED task waits to run again (attempts and last
    /// error kept).
    fn requeue(&mut self, id: &TaskId) -> Result<ActionOutcome>;
    /// `ex.remove(id)`: deletes a finished task and its logs.
    fn remove(&mut self, id: &TaskId) -> Result<ActionOutcome>;
    /// `ex.clean(…)`: deletes the finished tasks `filter` matches; how many.
    fn clean(&mut self, filter: &CleanFilter) -> Result<u64>;
    /// `ex.drain(queue)`: deletes the queue's waiting and delayed tasks (not claimed
    /// ones); how many. Whoever awaits one learns it is gone.
    fn drain(&mut self, queue: &str) -> Result<u64>;
    /// Stores an artifact document of task `task` (engine/artifacts.rs): its number
    /// (1, 2, …), Some(0) when the task already has `max`, None when the task is not in
    /// the store. Deleted with the task.
    fn save_artifact(&mut self, task: &TaskId, doc: &str, max: usize) -> Result<Option<u64>>;
    /// The artifact documents of `task`, by number.
    fn artifacts(&self, task: &TaskId) -> Result<Vec<(u64, String)>>;
}

/// Cuts a fetched `limit + 1` rows to a page and its cursor.
pub fn page(mut rows: Vec<Value>, limit: usize) -> Result<Value> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let cursor = if more {
        rows.last()
            .and_then(|r| r["seq"].as_i64())
            .map(|s| s.to_string())
    } else {
        None
    };
    for r in &mut rows {
        if let Some(o) = r.as_object_mut() {
            o.remove("seq");
        }
    }
    Ok(serde_json::json!({ "tasks": rows, "cursor": cursor }))
}

/// A task state's code as durable stores keep it (its index in `TaskState::ALL`).
pub fn state_code(s: TaskState) -> usize {
    TaskState::ALL
        .iter()
        .position(|x| *x == s)
        .expect("a state")
}

/// The error recorded on a task whose worker stopped renewing its lease (as JSON): it
/// runs again, or — lost with no attempts left (`final_`) — it fails.
pub fn worker_lost_error(final_: bool) -> String {
    let message = if final_ {
        "the worker running this task stopped renewing its lease (the process died) and no attempts are left"
    } else {
        "the worker running this task stopped renewing its lease (the process died); the task runs again"
    };
    serde_json::json!({ "type": "WorkerLostError", "message": message, "stack": null }).to_string()
}

//! The writer thread: the only writer of the database in this process. It takes the
//! operations the engine sends (submits, claims, outcomes, progress, logs) and applies
//! everything that arrived meanwhile in one transaction — group commit — so a batch of
//! hundreds of tasks costs one commit. Between batches it keeps this worker's lease
//! alive, recovers tasks whose worker died, promotes delayed tasks, and trims finished
//! tasks in small steps so that retention never stalls the work.
//!
//! Replies go into a shared inbox; the `waker` tells the host to come and take them.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::counts::{self, Counts};
use super::schema::{FAILURE, PENDING, RECEIVED, RETRY, STARTED};
use super::errors;
use crate::clock::Clock;
use crate::store::fault::FaultEpisode;
use crate::store::host;
use crate::store::protocol::{state_code, worker_lost_error, Adopted, NewTask, Op, Reply, Shared, Want};
use crate::store::writer::batch::Batch;
use crate::store::writer::chores::LISTENER_TTL_MS;
use crate::store::writer::thread::{self, Core, Round};
use crate::task::TaskId;

/// The writer is configured with what every durable store is opened with.
pub use crate::store::StoreSettings as WriterConfig;

/// Most finished tasks deleted per transaction by retention.
const TRIM_CHUNK: i64 = 2_000;
/// Logged events are kept this long (ms) for listeners to read.
pub const EVENTS_KEEP_MS: u64 = 60_000;
/// How long the writer polls for the host's next op before it sleeps.
const SPIN: Duration = Duration::from_micros(100);
/// After inserting this many tasks at once, hand freed memory back to the OS.
const BIG_INSERT: usize = 10_000;

/// A big batch leaves megabytes of freed buffers (its tasks, their JSON) that glibc
/// keeps mapped; returning them keeps a producer of millions of tasks small.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the OS; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

pub struct Writer {
    conn: Connection,
    cfg: WriterConfig,
    core: Core,
    names_json: String,
    seen_version: i64,
    /// This worker holds tasks in the database (adopted, not yet finished).
    holds_tasks: bool,
    own_retention: Vec<(String, usize, Option<u64>)>,
    /// The outlook was skipped since the last change: work it out on the next tick.
    outlook_dirty: bool,
    /// Transactions failing in a row (disk full, corruption): reported once, backed off.
    fault: FaultEpisode,
    /// This process is registered as a listener.
    registered: bool,
}

impl Writer {
    pub fn new(conn: Connection, cfg: WriterConfig, clock: Arc<dyn Clock>, shared: Arc<Shared>) -> Self {
        Writer {
            core: Core::new(shared, clock, cfg.lease_ms, cfg.claim_hold_ms),
            conn,
            cfg,
            names_json: "[]".into(),
            seen_version: 0,
            holds_tasks: false,
            own_retention: Vec::new(),
            outlook_dirty: false,
            fault: FaultEpisode::default(),
            registered: false,
        }
    }

    /// Runs the writer thread until the engine stops it.
    pub fn run(self, rx: Receiver<Op>) {
        thread::run(self, rx);
    }

    /// Keeps this process's listener registration while it listens, and works out
    /// whether another process listens (then events are logged). Once a second, apart
    /// from the transactions: a failure here only delays events.
    fn listeners_chore(&mut self, now: u64, changed: bool) {
        let renew = self.core.chores.listeners_due(now);
        // Someone committed (a new listener registers with a commit): look now, so that
        // a task submitted right after a listener came is logged for it.
        if !renew && !changed {
            return;
        }
        let me = &self.cfg.worker_id;
        let listening = self.core.shared.listening.load(Ordering::SeqCst);
        if !renew {
            // Only the look.
        } else if listening {
            let _ = self.conn.execute(
                "INSERT INTO listeners (id, expires_at) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at",
                params![me, (now + LISTENER_TTL_MS) as i64],
            );
            self.registered = true;
        } else if self.registered {
            let _ = self.conn.execute("DELETE FROM listeners WHERE id = ?1", params![me]);
            self.registered = false;
        }
        if renew {
            self.core.chores.listeners_ran(now);
        }
        let others = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM listeners WHERE expires_at > ?1 AND id <> ?2)")
            .and_then(|mut st| st.query_row(params![now as i64, me], |r| r.get::<_, bool>(0)))
            .unwrap_or(false);
        self.core.shared.listeners_elsewhere.store(others, Ordering::SeqCst);
    }

    fn data_version(&self) -> i64 {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap_or(0)
    }

    /// Applies the batch and the due chores in one transaction, retrying while the
    /// database is busy. A batch that fails for another reason is applied op by op, so
    /// that one bad op (which rejects its own ticket) cannot hold back the others.
    fn commit_batch(&mut self, batch: Batch, now: u64, changed: bool, stopping: bool) {
        if let Some(names) = &batch.names {
            self.names_json = serde_json::to_string(names).expect("names serialize");
        }
        if let Some(own) = &batch.retention {
            self.own_retention = own.clone();
        }
        let names_changed = batch.names_changed() | self.core.marks.owed();
        // A failed transaction may have pushed replies (a `Committed`) before it failed:
        // they are void. Only a committed transaction's replies are ever delivered.
        let mut replies = Vec::new();
        let mut first_error = None;
        match self.transaction(&batch, now, changed, names_changed, stopping, &mut replies) {
            Ok(()) => {}
            Err(e) if batch.ops.len() > 1 && !errors::is_corruption(&e) => {
                replies.clear();
                let mut outlook_owed = names_changed;
                for op in batch.ops {
                    let one = Batch::new(vec![op], now);
                    let mut r = Vec::new();
                    let names_changed = std::mem::take(&mut outlook_owed) | one.names_changed();
                    if let Err(e) = self.transaction(&one, now, false, names_changed, stopping, &mut r) {
                        outlook_owed |= names_changed;
                        r = self.failed(one, &e, stopping);
                        first_error.get_or_insert(e);
                    }
                    replies.extend(r);
                }
                self.core.marks.recheck |= outlook_owed;
            }
            Err(e) => {
                replies.clear();
                self.core.marks.recheck |= names_changed;
                replies.extend(self.failed(batch, &e, stopping));
                first_error = Some(e);
            }
        }
        match first_error {
            Some(e) => {
                self.core.shared.failing.store(true, Ordering::SeqCst);
                if self.fault.failed() {
                    replies.push(Reply::Fault(format!(
                        "writes to the SQLite store failed: {}; retrying with backoff",
                        errors::describe(&e)
                    )));
                }
            }
            None => {
                if self.fault.succeeded() {
                    self.core.shared.failing.store(false, Ordering::SeqCst);
                }
            }
        }
        self.core.shared.deliver(replies);
    }

    /// The ops of a batch whose transaction failed: kept for the next round, or answered
    /// (`Core::failed`).
    fn failed(&mut self, batch: Batch, e: &rusqlite::Error, stopping: bool) -> Vec<Reply> {
        let error = || format!("the SQLite store failed to commit: {}", errors::describe(e));
        batch
            .ops
            .into_iter()
            .filter_map(|op| self.core.failed(op, stopping, error))
            .collect()
    }

    fn transaction(
        &mut self,
        batch: &Batch,
        now: u64,
        changed: bool,
        names_changed: bool,
        stopping: bool,
        replies: &mut Vec<Reply>,
    ) -> rusqlite::Result<()> {
        let mut attempts = 0;
        loop {
            replies.clear();
            let r = self.try_transaction(batch, now, changed, names_changed, stopping, replies);
            match r {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && attempts < 50 =>
                {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => return r,
            }
        }
    }

    fn try_transaction(
        &mut self,
        batch: &Batch,
        now: u64,
        changed: bool,
        names_changed: bool,
        stopping: bool,
        replies: &mut Vec<Reply>,
    ) -> rusqlite::Result<()> {
        let me = self.cfg.worker_id.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Outcomes of this batch as one JSON array (see `push_outcome`).
        let mut finishes = String::new();
        // This connection fires no count triggers: the round counts what it changes.
        let mut counts = Counts::default();
        // The outcomes' rows, ids and new states, for those counts.
        let mut outcomes: Vec<(i64, TaskId, i64)> = Vec::new();
        let heartbeat = self.core.chores.heartbeat_due(now);
        if self.cfg.worker && !stopping && heartbeat {
            tx.prepare_cached(
                "INSERT INTO workers (id, pid, started_at, expires_at, host) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at",
            )?
            .execute(params![
                me,
                std::process::id(),
                now as i64,
                (now + self.cfg.lease_ms) as i64,
                host::host_key()
            ])?;
        }
        for op in &batch.ops {
            match op {
                Op::Insert { ticket, tasks } => {
                    let existing = insert_tasks(&tx, tasks, now, Some(&mut counts))?;
                    replies.push(Reply::Committed {
                        ticket: *ticket,
                        existing_id: existing,
                    });
                }
                Op::Finish {
                    seq,
                    id,
                    state,
                    attempt,
                    result,
                    error,
                    started_at,
                    at,
                    ..
                } => {
                    outcomes.push((*seq, *id, state_code(*state) as i64));
                    push_outcome(
                        &mut finishes,
                        *seq,
                        id,
                        state_code(*state) as i64,
                        *attempt,
                        result,
                        error,
                        *at,
                        *started_at,
                    );
                }
                Op::Retry {
                    seq,
                    id,
                    error,
                    due_at,
                    ..
                } => {
                    let due = (*due_at > now).then_some(*due_at as i64);
                    let id = id.to_string();
                    let held: Option<(String, i64)> = tx
                        .prepare_cached("SELECT queue, state FROM tasks WHERE seq = ?1 AND id = ?2 AND owner = ?3")?
                        .query_row(params![seq, id, me], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    if let Some((queue, state)) = held {
                        tx.prepare_cached(
                            concat!("UPDATE tasks SET state = ", sql_state!(RETRY), ", error = ?1, due_at = ?2 WHERE seq = ?3"),
                        )?
                        .execute(params![error, due, seq])?;
                        counts.moved(&queue, state, RETRY, 1);
                    }
                }
                Op::Progress {
                    id,
                    percent,
                    message,
                    ..
                } => {
                    tx.prepare_cached(
                        "UPDATE tasks SET progress = ?1, progress_message = ?2 WHERE id = ?3",
                    )?
                    .execute(params![percent, message, id.to_string()])?;
                }
                Op::Status { id, status, .. } => {
                    tx.prepare_cached("UPDATE tasks SET status = ?1 WHERE id = ?2")?
                        .execute(params![status, id.to_string()])?;
                }
                Op::Log {
                    id,
                    time,
                    level,
                    message,
                    ..
                } => {
                    tx.prepare_cached("INSERT INTO task_logs (task_id, time, level, message) VALUES (?1, ?2, ?3, ?4)")?
                        .execute(params![id.to_string(), *time as i64, level, message])?;
                }
                Op::Release { ids } => {
                    let mut held = tx.prepare_cached("SELECT state FROM tasks WHERE id = ?1 AND owner = ?2")?;
                    let mut st = tx.prepare_cached(
                        concat!("UPDATE tasks SET state = CASE WHEN attempt <= 1 THEN ", sql_state!(PENDING), " ELSE ", sql_state!(RETRY), " END, attempt = attempt - 1,
                         owner = NULL, started_at = NULL WHERE id = ?1 AND owner = ?2 RETURNING queue, state"),
                    )?;
                    for id in ids {
                        let id = id.to_string();
                        let Some(from) = held.query_row(params![id, me], |r| r.get::<_, i64>(0)).optional()? else {
                            continue;
                        };
                        let (queue, to): (String, i64) =
                            st.query_row(params![id, me], |r| Ok((r.get(0)?, r.get(1)?)))?;
                        counts.moved(&queue, from, to, 1);
                    }
                }
                Op::Events { docs, at } => {
                    tx.prepare_cached("INSERT INTO events (at, origin, docs) VALUES (?1, ?2, ?3)")?
                        .execute(params![*at as i64, me, format!("[{docs}]")])?;
                }
                // Bookkeeping, read by `Batch`; "started" below.
                Op::Adopt { .. }
                | Op::Started { .. }
                | Op::Names(_)
                | Op::Retention(_)
                | Op::Poke
                | Op::Flush { .. }
                | Op::Stop => {}
            }
        }
        // A task whose outcome is in this batch too is written once, by its outcome (which
        // carries its start time): `Batch` left it out of the started marks.
        if !batch.started_seqs.is_empty() {
            let seqs = serde_json::to_string(&batch.started_seqs).expect("seqs serialize");
            let mut st = tx.prepare_cached(
                concat!("UPDATE tasks SET state = ", sql_state!(STARTED), ", started_at = ?2
                 WHERE seq IN (SELECT value FROM json_each(?1)) AND owner = ?3 AND state = ", sql_state!(RECEIVED),
                 " RETURNING queue"),
            )?;
            let mut rows = st.query(params![seqs, batch.started_at as i64, me])?;
            while let Some(r) = rows.next()? {
                counts.moved(r.get_ref(0)?.as_str()?, RECEIVED, STARTED, 1);
            }
        }
        for ticket in &batch.flushes {
            replies.push(Reply::Committed {
                ticket: *ticket,
                existing_id: None,
            });
        }
        if !finishes.is_empty() {
            finishes.insert(0, '[');
            finishes.push(']');
            // Outcomes in one statement (a guard on owner: a worker whose lease expired
            // and whose task was taken over must not overwrite the new run's outcome).
            count_outcomes(&tx, &outcomes, &me, &mut counts)?;
            tx.prepare_cached(
                "UPDATE tasks SET state = j.value ->> 2, attempt = j.value ->> 3, result = j.value ->> 4,
                   error = j.value ->> 5, completed_at = j.value ->> 6, due_at = NULL,
                   started_at = coalesce(j.value ->> 7, started_at)
                 FROM json_each(?1) AS j
                 WHERE tasks.seq = j.value ->> 0 AND tasks.id = j.value ->> 1 AND tasks.owner = ?2",
            )?
            .execute(params![finishes, me])?;
        }
        // Delayed tasks and retries whose time has come join their lines.
        let known_due = self.core.shared.next_due.load(Ordering::SeqCst);
        if changed || (known_due != 0 && known_due <= now) {
            tx.prepare_cached(
                "UPDATE tasks SET due_at = NULL WHERE due_at IS NOT NULL AND due_at <= ?1",
            )?
            .execute(params![now as i64])?;
        }
        let trim = self.core.chores.maintenance_due(now);
        if heartbeat || (trim && end_dead_workers(&tx, &me)? > 0) {
            recover_expired(&tx, now, &mut counts)?;
        }
        if changed && self.holds_tasks {
            let ids = cancel_requests(&tx, &me)?;
            if !ids.is_empty() {
                replies.push(Reply::CancelRequested(ids));
            }
        }
        if trim {
            trim_finished(
                &tx,
                &mut counts,
                now,
                self.cfg.keep_count,
                self.cfg.keep_age_ms,
                &self.own_retention,
            )?;
            tx.prepare_cached("DELETE FROM events WHERE at < ?1")?
                .execute(params![now.saturating_sub(EVENTS_KEEP_MS) as i64])?;
        }
        // Claims: a new request, or the standing one when something may have changed.
        let (wants, limit) = self.core.claim.current(&batch.request);
        let mut adopted = Vec::new();
        if self.cfg.worker
            && !stopping
            && !wants.is_empty()
            && (batch.request.is_some() || batch.inserted || changed || !self.core.claim.is_empty())
        {
            adopted = adopt(&tx, &wants, limit, &me, &mut counts)?;
        }
        if stopping {
            tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?
                .execute(params![me])?;
        }
        // The outlook (is there work for this worker, when is the next due time) costs a
        // few queries: worked out when something may have changed it, and at most every
        // OUTLOOK_EVERY_MS in between while a batch of claims and outcomes streams through.
        let outlook = names_changed
            || batch.inserted_delayed
            || changed
            || stopping
            || !batch.requeued.is_empty()
            || (adopted.is_empty() && (batch.request.is_some() || !self.core.claim.is_empty()))
            || self.core.chores.outlook_due(now);
        let fresh = if outlook {
            let (has_work, next_due) = work_outlook(&tx, self.cfg.worker, &self.names_json)?;
            let holds: bool = tx
                .prepare_cached(
                    concat!("SELECT EXISTS (SELECT 1 FROM tasks WHERE state IN ", sql_state!(HELD), " AND owner = ?1)"),
                )?
                .query_row(params![me], |r| r.get(0))?;
            Some((has_work, next_due, holds))
        } else {
            None
        };
        counts.write(&tx)?;
        tx.commit()?;
        // Committed: only now may the host learn of it.
        let (has_work, next_due) = match fresh {
            Some((has_work, next_due, holds)) => {
                self.holds_tasks = holds;
                self.core.chores.outlook_ran(now);
                self.outlook_dirty = false;
                (has_work, next_due)
            }
            None => {
                self.outlook_dirty = true;
                self.holds_tasks |= !adopted.is_empty();
                let has = self.core.shared.has_work.load(Ordering::SeqCst)
                    || !adopted.is_empty()
                    || (batch.inserted && self.cfg.worker);
                (has, self.core.shared.next_due.load(Ordering::SeqCst))
            }
        };
        self.core.chores.ran(now, heartbeat, trim);
        self.core.claim.answered(batch.request.clone(), (wants, limit), adopted, replies);
        if !batch.settled.is_empty() {
            replies.push(Reply::Settled(batch.settled.clone()));
        }
        if !batch.requeued.is_empty() {
            replies.push(Reply::Requeued(batch.requeued.clone()));
        }
        let mut before = self.core.shared.has_work.swap(has_work, Ordering::SeqCst);
        // `names_changed` always works the outlook out (above).
        if self.core.marks.outlook_done(&self.core.shared, names_changed) {
            before = !has_work; // the host saw "maybe": tell it what it is
        }
        let due_before = self.core.shared.next_due.swap(next_due, Ordering::SeqCst);
        if (before != has_work || due_before != next_due) && replies.is_empty() {
            self.core.shared.wake();
        }
        Ok(())
    }
}

impl Round for Writer {
    type Notice = std::convert::Infallible;

    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    fn wait_ms(&mut self, now: u64) -> u64 {
        // A standing claim request also wakes at the next due time: delayed tasks start
        // on time, not on the next poll.
        let wait = self.cfg.poll_ms.max(1);
        let due = self.core.shared.next_due.load(Ordering::Relaxed);
        if !self.core.claim.is_empty() && due != 0 {
            return wait.min(due.saturating_sub(now));
        }
        wait
    }

    fn spin(&self) -> Option<Duration> {
        Some(SPIN)
    }

    fn notice(&mut self, notice: Self::Notice, _: &mut Vec<Reply>) {
        match notice {}
    }

    fn round(&mut self, ops: Vec<Op>, now: u64, stopping: bool, _: &mut Vec<Reply>) {
        let version = self.data_version();
        let changed = version != self.seen_version;
        self.listeners_chore(now, changed);
        self.seen_version = version;
        let due = self.core.shared.next_due.load(Ordering::Relaxed);
        let chores = self.core.chores.heartbeat_due(now)
            || self.core.chores.maintenance_due(now)
            || (self.outlook_dirty && self.core.chores.outlook_due(now));
        let adopt_now = !self.core.claim.is_empty() && (changed || (due != 0 && due <= now));
        let idle = ops.is_empty() && !chores && !adopt_now && !stopping && !self.core.marks.recheck;
        if idle && !(changed && self.holds_tasks) {
            return;
        }
        if self.fault.failing() {
            // Back off before trying again; then move the WAL into the file and cut it to
            // nothing first, so that space freed meanwhile is not eaten by the WAL.
            std::thread::sleep(self.fault.backoff());
            let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        }
        let inserted: usize = ops
            .iter()
            .map(|op| if let Op::Insert { tasks, .. } = op { tasks.len() } else { 0 })
            .sum();
        self.commit_batch(Batch::new(ops, now), now, changed, stopping);
        if inserted >= BIG_INSERT {
            release_freed_memory();
        }
    }
}

/// Whether unfinished tasks this worker could run exist, and the earliest due time.
fn work_outlook(tx: &Transaction, worker: bool, names_json: &str) -> rusqlite::Result<(bool, u64)> {
    {
        let next_due: Option<i64> = tx
            .prepare_cached("SELECT MIN(due_at) FROM tasks WHERE due_at IS NOT NULL")?
            .query_row([], |r| r.get(0))?;
        let any: bool = tx
            .prepare_cached(
                concat!("SELECT EXISTS (SELECT 1 FROM json_each(?1) AS l JOIN tasks AS t
                   ON t.name = json_extract(l.value, '$[0]') AND t.queue = json_extract(l.value, '$[1]')
                   WHERE t.state IN ", sql_state!(READY), " AND t.due_at IS NULL
                     AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE queue = t.queue))
                 OR EXISTS (SELECT 1 FROM tasks WHERE state IN ", sql_state!(HELD), "
                   AND name IN (SELECT json_extract(value, '$[0]') FROM json_each(?1)))"),
            )?
            .query_row(params![names_json], |r| r.get(0))?;
        let has_work = worker && (any || next_due.is_some());
        Ok((has_work, next_due.unwrap_or(0).max(0) as u64))
    }
}

/// Appends one outcome row, `[seq,"id",state,attempt,result,error,at,started_at]`, to the
/// batch (comma separated) written directly: this runs once per task on the busiest
/// thread, so no JSON tree is built. Texts are JSON strings; absent values are null.
#[allow(clippy::too_many_arguments)]
fn push_outcome(
    out: &mut String,
    seq: i64,
    id: &TaskId,
    state: i64,
    attempt: u32,
    result: &Option<String>,
    error: &Option<String>,
    at: u64,
    started_at: u64,
) {
    use std::fmt::Write;
    if !out.is_empty() {
        out.push(',');
    }
    let _ = write!(out, "[{seq},\"{id}\",{state},{attempt},");
    for text in [result, error] {
        match text {
            Some(t) => crate::wire::push_json_str(out, t),
            None => out.push_str("null"),
        }
        out.push(',');
    }
    if started_at > 0 {
        let _ = write!(out, "{at},{started_at}]");
    } else {
        let _ = write!(out, "{at},null]");
    }
}

/// Counts the outcomes the statement after it writes: each row it will change (the same
/// seq, id and owner guard), from its state now to its outcome's. Read by row number
/// from a list of numbers, not from the outcomes' JSON, which would be parsed twice.
fn count_outcomes(
    tx: &Transaction,
    outcomes: &[(i64, TaskId, i64)],
    me: &str,
    counts: &mut Counts,
) -> rusqlite::Result<()> {
    let seqs = serde_json::to_string(&outcomes.iter().map(|o| o.0).collect::<Vec<_>>()).expect("seqs");
    let by_seq: rustc_hash::FxHashMap<i64, (TaskId, i64)> =
        outcomes.iter().map(|(seq, id, to)| (*seq, (*id, *to))).collect();
    let mut st = tx.prepare_cached(
        "SELECT seq, id, queue, state FROM tasks WHERE seq IN (SELECT value FROM json_each(?1)) AND owner = ?2",
    )?;
    let mut rows = st.query(params![seqs, me])?;
    while let Some(r) = rows.next()? {
        let Some((id, to)) = by_seq.get(&r.get::<_, i64>(0)?) else {
            continue;
        };
        if uuid::Uuid::try_parse(r.get_ref(1)?.as_str()?).ok() == Some(*id) {
            counts.moved(r.get_ref(2)?.as_str()?, r.get(3)?, *to, 1);
        }
    }
    Ok(())
}

/// Inserts tasks; with an idempotency key that a task already has, returns that task's id.
/// `counts`: where the writer counts them (its connection fires no count triggers);
/// `None` on a connection whose triggers count.
pub(super) fn insert_tasks(
    tx: &Transaction,
    tasks: &[NewTask],
    now: u64,
    mut counts: Option<&mut Counts>,
) -> rusqlite::Result<Option<String>> {
    // A batch from one submitMany shares everything but id and payload: one statement.
    if tasks.len() > 1 && tasks.iter().all(|t| t.key.is_none()) {
        let t = &tasks[0];
        let mut rows = String::with_capacity(tasks.len() * 64);
        rows.push('[');
        let mut buf = uuid::Uuid::encode_buffer();
        for (i, task) in tasks.iter().enumerate() {
            if i > 0 {
                rows.push(',');
            }
            rows.push_str("[\"");
            rows.push_str(task.id.hyphenated().encode_lower(&mut buf));
            rows.push_str("\",");
            crate::wire::push_json_str(&mut rows, &task.payload);
            rows.push(']');
        }
        rows.push(']');
        let run_at = (t.run_at > 0).then_some(t.run_at as i64);
        let due_at = (t.run_at > now).then_some(t.run_at as i64);
        let n = tx.prepare_cached(
            concat!("INSERT INTO tasks (id, name, queue, state, priority, max_attempts, payload, created_at, run_at, due_at, trace)
             SELECT j.value ->> 0, ?1, ?2, ", sql_state!(PENDING), ", ?3, ?4, j.value ->> 1, ?5, ?6, ?7, ?9 FROM json_each(?8) AS j"),
        )?
        .execute(params![&*t.name, &*t.queue, t.priority, t.max_attempts, t.created_at as i64, run_at, due_at, rows, t.trace.as_deref()])?;
        if let Some(c) = counts {
            c.add(&t.queue, PENDING, n as i64);
        }
        return Ok(None);
    }
    let mut st = tx.prepare_cached(
        concat!("INSERT INTO tasks (id, name, queue, state, priority, max_attempts, payload, key, created_at, run_at, due_at, trace)
         VALUES (?1, ?2, ?3, ", sql_state!(PENDING), ", ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING"),
    )?;
    let mut buf = uuid::Uuid::encode_buffer();
    for t in tasks {
        let run_at = (t.run_at > 0).then_some(t.run_at as i64);
        let due_at = (t.run_at > now).then_some(t.run_at as i64);
        let n = st.execute(params![
            t.id.hyphenated().encode_lower(&mut buf) as &str,
            &*t.name,
            &*t.queue,
            t.priority,
            t.max_attempts,
            t.payload.as_str(),
            t.key,
            t.created_at as i64,
            run_at,
            due_at,
            t.trace.as_deref()
        ])?;
        if let Some(c) = counts.as_deref_mut() {
            c.add(&t.queue, PENDING, n as i64);
        }
        if n == 0 {
            if let Some(key) = &t.key {
                let id: String =
                    tx.query_row("SELECT id FROM tasks WHERE key = ?1", params![key], |r| {
                        r.get(0)
                    })?;
                return Ok(Some(id));
            }
        }
    }
    Ok(None)
}

/// Claims the first `limit` ready tasks among the wanted names — highest priority,
/// then FIFO, at most `max` of each name: RECEIVED, leased to `me`, attempt counted.
fn adopt(
    tx: &Transaction,
    wants: &[Want],
    limit: u32,
    me: &str,
    counts: &mut Counts,
) -> rusqlite::Result<Vec<Adopted>> {
    // Each name's line is read from its index in order, so the cost does not grow
    // with the backlog. Its state (PENDING or RETRY) is read for the counts.
    let mut heads: Vec<(i32, i64, u32, i64, usize)> = Vec::new();
    let mut line = tx.prepare_cached(
        concat!("SELECT priority, seq, state FROM tasks WHERE name = ?1 AND queue = ?3 AND state IN ", sql_state!(READY), " AND due_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE queue = ?3)
         ORDER BY priority DESC, seq LIMIT ?2"),
    )?;
    for (i, w) in wants.iter().enumerate() {
        let max = w.max.min(limit);
        if max == 0 {
            continue;
        }
        let rows = line.query_map(params![w.name, max, w.queue], |r| {
            Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)?, w.def, r.get::<_, i64>(2)?, i))
        })?;
        for row in rows {
            heads.push(row?);
        }
    }
    heads.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    heads.truncate(limit as usize);
    for h in &heads {
        counts.moved(&wants[h.4].queue, h.3, RECEIVED, 1);
    }
    // One statement for the whole batch: per-row statements cost more than the rows.
    let defs: rustc_hash::FxHashMap<i64, u32> = heads.iter().map(|h| (h.1, h.2)).collect();
    let seqs = serde_json::to_string(&heads.iter().map(|h| h.1).collect::<Vec<_>>()).expect("seqs");
    let mut take = tx.prepare_cached(
        concat!("UPDATE tasks SET state = ", sql_state!(RECEIVED), ", owner = ?1, attempt = attempt + 1, started_at = NULL,
           cancel_requested = CASE WHEN cancel_requested = 0 THEN 0 ELSE 2 END
         WHERE seq IN (SELECT value FROM json_each(?2))
         RETURNING seq, id, priority, attempt, payload, created_at, run_at, key, error, cancel_requested, trace"),
    )?;
    let rows = take.query_map(params![me, seqs], |r| {
        let seq: i64 = r.get(0)?;
        let id: String = r.get(1)?;
        Ok(Adopted {
            def: defs.get(&seq).copied().unwrap_or(0),
            seq,
            id: uuid::Uuid::try_parse(&id).unwrap_or_default(),
            priority: r.get(2)?,
            attempt: r.get(3)?,
            payload: r.get(4)?,
            created_at: r.get::<_, i64>(5)? as u64,
            run_at: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
            key: r.get(7)?,
            error: r.get(8)?,
            // Asked while a worker that then died held it (handed over: 2).
            cancel_requested: r.get::<_, i64>(9)? != 0,
            trace: r.get(10)?,
        })
    })?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // Highest priority first, then FIFO, across names.
    out.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.seq.cmp(&b.seq)));
    Ok(out)
}

/// Tasks whose worker's lease expired (the process died, or lost its machine): back
/// to their line with the attempt counted. A lost run does not use up the retry budget
/// once: a task is only given up (FAILURE) when it is lost again with no attempts left,
/// so a task that kills its process cannot crash-loop forever.
fn recover_expired(tx: &Transaction, now: u64, counts: &mut Counts) -> rusqlite::Result<usize> {
    let retry_err = worker_lost_error(false);
    let fail_err = worker_lost_error(true);
    // The rows the update below takes, counted first (the same condition).
    let mut moves = tx.prepare_cached(concat!(
        "SELECT queue, state, CASE WHEN attempt > max_attempts THEN ?1 ELSE ?2 END, count(*) FROM tasks
         WHERE state IN ", sql_state!(HELD), " AND owner NOT IN (SELECT id FROM workers WHERE expires_at >= ?3)
         GROUP BY 1, 2, 3"
    ))?;
    let mut rows = moves.query(params![FAILURE, RETRY, now as i64])?;
    while let Some(r) = rows.next()? {
        counts.moved(r.get_ref(0)?.as_str()?, r.get(1)?, r.get(2)?, r.get(3)?);
    }
    drop(rows);
    let n = tx
        .prepare_cached(
            concat!("UPDATE tasks SET
               state = CASE WHEN attempt > max_attempts THEN ?1 ELSE ?2 END,
               error = CASE WHEN attempt > max_attempts THEN ?3 ELSE ?4 END,
               completed_at = CASE WHEN attempt > max_attempts THEN ?5 ELSE NULL END,
               due_at = NULL
             WHERE state IN ", sql_state!(HELD), " AND owner NOT IN (SELECT id FROM workers WHERE expires_at >= ?5)"),
        )?
        .execute(params![FAILURE, RETRY, fail_err, retry_err, now as i64])?;
    tx.prepare_cached("DELETE FROM workers WHERE expires_at < ?1")?
        .execute(params![now as i64])?;
    Ok(n)
}

/// Workers of this host (store/host.rs) whose process is gone: their lease is ended
/// now, so that `recover_expired` takes their tasks without waiting for it to run out.
/// Returns how many were ended.
fn end_dead_workers(tx: &Transaction, me: &str) -> rusqlite::Result<usize> {
    let Some(key) = host::host_key() else {
        return Ok(0);
    };
    let own_pid = std::process::id();
    let dead: Vec<String> = tx
        .prepare_cached("SELECT id, pid FROM workers WHERE host = ?1 AND id <> ?2 AND expires_at > 0")?
        .query_map(params![key, me], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .filter_map(|row| match row {
            Ok((id, pid)) => {
                let pid = u32::try_from(pid).ok()?;
                (pid != own_pid && host::process_is_gone(pid)).then_some(Ok(id))
            }
            Err(e) => Some(Err(e)),
        })
        .collect::<rusqlite::Result<_>>()?;
    let mut end = tx.prepare_cached("UPDATE workers SET expires_at = 0 WHERE id = ?1")?;
    for id in &dead {
        end.execute(params![id])?;
    }
    Ok(dead.len())
}

fn cancel_requests(tx: &Transaction, me: &str) -> rusqlite::Result<Vec<TaskId>> {
    let mut st = tx.prepare_cached(
        concat!("UPDATE tasks SET cancel_requested = 2 WHERE state IN ", sql_state!(HELD), " AND owner = ?1 AND cancel_requested = 1 RETURNING id"),
    )?;
    let ids = st.query_map(params![me], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for id in ids {
        if let Ok(id) = uuid::Uuid::try_parse(&id?) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Retention, a chunk at a time: finished tasks beyond `keep_count` or older than
/// `keep_age_ms` are deleted with their logs.
fn trim_finished(
    tx: &Transaction,
    counts: &mut Counts,
    now: u64,
    keep_count: usize,
    keep_age_ms: Option<u64>,
    own: &[(String, usize, Option<u64>)],
) -> rusqlite::Result<()> {
    let mut remaining = TRIM_CHUNK;
    for (name, count, age) in own {
        remaining -= trim_group(tx, counts, now, *count, *age, Some(name), None, remaining)?;
    }
    let own_names =
        serde_json::to_string(&own.iter().map(|o| &o.0).collect::<Vec<_>>()).expect("names");
    trim_group(
        tx,
        counts,
        now,
        keep_count,
        keep_age_ms,
        None,
        Some(&own_names),
        remaining,
    )?;
    Ok(())
}

/// Trims one retention group — one task name (`name`), or every name but `except` (a
/// JSON list) — deleting at most `limit` tasks; returns how many it deleted.
#[allow(clippy::too_many_arguments)]
fn trim_group(
    tx: &Transaction,
    counts: &mut Counts,
    now: u64,
    keep_count: usize,
    keep_age_ms: Option<u64>,
    name: Option<&str>,
    except: Option<&str>,
    limit: i64,
) -> rusqlite::Result<i64> {
    if limit <= 0 {
        return Ok(0);
    }
    let scope = "(?3 IS NULL OR name = ?3) AND (?4 IS NULL OR name NOT IN (SELECT value FROM json_each(?4)))";
    let mut deleted = 0;
    if let Some(age) = keep_age_ms {
        let cutoff = now.saturating_sub(age) as i64;
        deleted += delete_finished(
            tx,
            counts,
            &format!("completed_at <= ?1 AND {scope}"),
            cutoff,
            limit,
            name,
            except,
        )?;
    }
    let remaining = limit - deleted;
    if remaining > 0 {
        let finished: i64 = tx
            .prepare_cached(
                &format!(concat!("SELECT count(*) FROM tasks WHERE state IN ", sql_state!(FINISHED), " AND {scope}"), scope = scope)
                    .replace("?3", "?1")
                    .replace("?4", "?2"),
            )?
            .query_row(params![name, except], |r| r.get(0))?;
        let excess = (finished - keep_count as i64).min(remaining);
        if excess > 0 {
            let cutoff: Option<i64> = tx
                .prepare_cached(&format!(
                    concat!("SELECT completed_at FROM tasks WHERE state IN ", sql_state!(FINISHED), " AND {scope}
                     ORDER BY completed_at LIMIT 1 OFFSET ?1"),
                    scope = scope
                ))?
                .query_row(
                    params![excess - 1, Option::<i64>::None, name, except],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(c) = cutoff {
                deleted += delete_finished(
                    tx,
                    counts,
                    &format!("completed_at <= ?1 AND {scope}"),
                    c,
                    excess,
                    name,
                    except,
                )?;
            }
        }
    }
    Ok(deleted)
}

#[allow(clippy::too_many_arguments)]
fn delete_finished(
    tx: &Transaction,
    counts: &mut Counts,
    condition: &str,
    value: i64,
    limit: i64,
    name: Option<&str>,
    except: Option<&str>,
) -> rusqlite::Result<i64> {
    let sql = format!(
        concat!("DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE state IN ", sql_state!(FINISHED), " AND {condition}
         ORDER BY completed_at LIMIT ?2) RETURNING id, queue, state"),
        condition = condition
    );
    let mut st = tx.prepare_cached(&sql)?;
    let gone: Vec<(String, String, i64)> = st
        .query_map(params![value, limit, name, except], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut logs = tx.prepare_cached("DELETE FROM task_logs WHERE task_id = ?1")?;
    for (id, queue, state) in &gone {
        logs.execute(params![id])?;
        counts::delete_artifacts(tx, id)?;
        counts.add(queue, *state, -1);
    }
    let ids = gone;
    Ok(ids.len() as i64)
}

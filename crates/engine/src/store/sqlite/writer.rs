//! The writer thread: the only writer of the database in this process. It takes the
//! operations the engine sends (submits, claims, outcomes, progress, logs) and applies
//! everything that arrived meanwhile in one transaction — group commit — so a batch of
//! hundreds of tasks costs one commit. Between batches it keeps this worker's lease
//! alive, recovers tasks whose worker died, promotes delayed tasks, and trims finished
//! tasks in small steps so that retention never stalls the work.
//!
//! Replies go into a shared inbox; the `waker` tells the host to come and take them.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::schema::{FAILURE, RETRY};
use super::errors;
use crate::clock::Clock;
use crate::store::fault::FaultEpisode;
use crate::store::host;
use crate::store::protocol::{
    state_code, worker_lost_error, Adopted, NewTask, Op, Reply, Shared, Want,
};
use crate::task::TaskId;

pub struct WriterConfig {
    pub worker_id: String,
    pub worker: bool,
    pub lease_ms: u64,
    pub poll_ms: u64,
    /// Claims left untaken by the host this long are released (`Shared::recall_untaken`).
    pub claim_hold_ms: u64,
    pub keep_count: usize,
    pub keep_age_ms: Option<u64>,
}

/// Most finished tasks deleted per transaction by retention.
const TRIM_CHUNK: i64 = 2_000;
const MAINTENANCE_EVERY_MS: u64 = 1_000;
const OUTLOOK_EVERY_MS: u64 = 20;
/// How often listener registrations are renewed and looked at, and how long one lasts.
const LISTENERS_EVERY_MS: u64 = 1_000;
pub const LISTENER_TTL_MS: u64 = 5_000;
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
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
    rx: Receiver<Op>,
    names_json: String,
    parked: Vec<Want>,
    parked_limit: u32,
    last_heartbeat: u64,
    last_maintenance: u64,
    seen_version: i64,
    /// This worker holds tasks in the database (adopted, not yet finished).
    holds_tasks: bool,
    last_outlook: u64,
    /// Writes that failed and are tried again (see `failed`).
    carry: Vec<Op>,
    own_retention: Vec<(String, usize, Option<u64>)>,
    /// The outlook was skipped since the last change: work it out on the next tick.
    outlook_dirty: bool,
    /// `Shared::stale_marks` when this round's ops were taken in.
    marks_taken: u64,
    /// The host marked the outlook stale again during the last round: work it out anew.
    recheck_outlook: bool,
    /// Transactions failing in a row (disk full, corruption): reported once, backed off.
    fault: FaultEpisode,
    /// When the listeners were last looked at (see `listeners_chore`).
    last_listeners: u64,
    /// This process is registered as a listener.
    registered: bool,
}

impl Writer {
    pub fn new(
        conn: Connection,
        cfg: WriterConfig,
        clock: Arc<dyn Clock>,
        shared: Arc<Shared>,
        rx: Receiver<Op>,
    ) -> Self {
        Writer {
            conn,
            cfg,
            clock,
            shared,
            rx,
            names_json: "[]".into(),
            parked: Vec::new(),
            parked_limit: 0,
            last_heartbeat: 0,
            last_maintenance: 0,
            seen_version: 0,
            holds_tasks: false,
            last_outlook: 0,
            carry: Vec::new(),
            own_retention: Vec::new(),
            outlook_dirty: false,
            marks_taken: 0,
            recheck_outlook: false,
            fault: FaultEpisode::default(),
            last_listeners: 0,
            registered: false,
        }
    }

    /// Keeps this process's listener registration while it listens, and works out
    /// whether another process listens (then events are logged). Once a second, apart
    /// from the transactions: a failure here only delays events.
    fn listeners_chore(&mut self, now: u64, changed: bool) {
        let renew = now >= self.last_listeners + LISTENERS_EVERY_MS;
        // Someone committed (a new listener registers with a commit): look now, so that
        // a task submitted right after a listener came is logged for it.
        if !renew && !changed {
            return;
        }
        let me = &self.cfg.worker_id;
        let listening = self.shared.listening.load(Ordering::SeqCst);
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
            self.last_listeners = now;
        }
        let others = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM listeners WHERE expires_at > ?1 AND id <> ?2)")
            .and_then(|mut st| st.query_row(params![now as i64, me], |r| r.get::<_, bool>(0)))
            .unwrap_or(false);
        self.shared.listeners_elsewhere.store(others, Ordering::SeqCst);
    }

    pub fn run(mut self) {
        let mut stop = false;
        let mut ops: Vec<Op> = Vec::new();
        while !stop {
            // A standing claim request also wakes at the next due time: delayed tasks
            // start on time, not on the next poll.
            let mut wait = self.cfg.poll_ms.max(1);
            let due = self.shared.next_due.load(Ordering::Relaxed);
            if !self.parked.is_empty() && due != 0 {
                wait = wait.min(due.saturating_sub(self.clock.now_ms()));
            }
            if let Some(due) = self.shared.recall_due_in(self.cfg.claim_hold_ms) {
                wait = wait.min(due.max(1));
            }
            let timeout = Duration::from_millis(wait);
            // Before taking ops in: a stale mark counted after this comes with an op that
            // may not be among them (see `Shared::mark_stale`).
            self.marks_taken = self.shared.stale_marks.load(Ordering::SeqCst);
            // Right after a commit the host usually answers within microseconds (the next
            // claim, an outcome): poll briefly before sleeping, sparing a wake-up each way.
            let spin_until = std::time::Instant::now() + SPIN;
            let mut first = None;
            while first.is_none() && std::time::Instant::now() < spin_until {
                match self.rx.try_recv() {
                    Ok(op) => first = Some(op),
                    Err(std::sync::mpsc::TryRecvError::Empty) => std::thread::yield_now(),
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                }
            }
            let received = match first {
                Some(op) => Ok(op),
                None => self.rx.recv_timeout(timeout),
            };
            match received {
                Ok(op) => ops.push(op),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            while ops.len() < 8_192 {
                match self.rx.try_recv() {
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            if ops.iter().any(|op| matches!(op, Op::Stop)) {
                stop = true;
            }
            let recalled = self.shared.recall_untaken(self.cfg.claim_hold_ms);
            if !recalled.is_empty() {
                self.parked.clear(); // the host asks again once it is back
                ops.push(Op::Release { ids: recalled });
            }
            let now = self.clock.now_ms();
            let version = self.data_version();
            let changed = version != self.seen_version;
            self.listeners_chore(now, changed);
            self.seen_version = version;
            let due = self.shared.next_due.load(Ordering::Relaxed);
            let chores = now >= self.last_heartbeat + self.cfg.lease_ms / 3
                || now >= self.last_maintenance + MAINTENANCE_EVERY_MS
                || (self.outlook_dirty && now >= self.last_outlook + OUTLOOK_EVERY_MS);
            let adopt_now = !self.parked.is_empty() && (changed || (due != 0 && due <= now));
            let idle = ops.is_empty()
                && self.carry.is_empty()
                && !chores
                && !adopt_now
                && !stop
                && !self.recheck_outlook;
            if idle && !(changed && self.holds_tasks) {
                continue;
            }
            let mut batch = std::mem::take(&mut self.carry);
            if self.fault.failing() {
                // Back off before trying again; then move the WAL into the file and cut it
                // to nothing first, so that space freed meanwhile is not eaten by the WAL.
                std::thread::sleep(self.fault.backoff());
                let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
            }
            batch.append(&mut ops);
            let inserted: usize = batch
                .iter()
                .map(|op| {
                    if let Op::Insert { tasks, .. } = op {
                        tasks.len()
                    } else {
                        0
                    }
                })
                .sum();
            self.commit_batch(batch, now, changed, stop);
            if inserted >= BIG_INSERT {
                release_freed_memory();
            }
        }
        self.shared.wake();
    }

    fn data_version(&self) -> i64 {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap_or(0)
    }

    /// Applies `ops` and the due chores in one transaction, retrying while the database
    /// is busy. A batch that fails for another reason is applied op by op, so that one
    /// bad op (which rejects its own ticket) cannot hold back the others.
    fn commit_batch(&mut self, ops: Vec<Op>, now: u64, changed: bool, stopping: bool) {
        // A failed transaction may have pushed replies (a `Committed`) before it failed:
        // they are void. Only a committed transaction's replies are ever delivered.
        let mut replies = Vec::new();
        let mut first_error = None;
        match self.transaction(&ops, now, changed, stopping, &mut replies) {
            Ok(()) => {}
            Err(e) if ops.len() > 1 && !errors::is_corruption(&e) => {
                replies.clear();
                for op in ops {
                    let one = [op];
                    let mut r = Vec::new();
                    if let Err(e) = self.transaction(&one, now, false, stopping, &mut r) {
                        let [op] = one;
                        r = self.failed(op, &e, stopping);
                        first_error.get_or_insert(e);
                    }
                    replies.extend(r);
                }
            }
            Err(e) => {
                replies.clear();
                for op in ops {
                    replies.extend(self.failed(op, &e, stopping));
                }
                first_error = Some(e);
            }
        }
        match first_error {
            Some(e) => {
                self.shared.failing.store(true, Ordering::SeqCst);
                if self.fault.failed() {
                    replies.push(Reply::Fault(format!(
                        "writes to the SQLite store failed: {}; retrying with backoff",
                        errors::describe(&e)
                    )));
                }
            }
            None => {
                if self.fault.succeeded() {
                    self.shared.failing.store(false, Ordering::SeqCst);
                }
            }
        }
        self.shared.deliver(replies);
    }

    /// An op whose transaction failed (disk full, I/O error…). A submit is rejected, so
    /// its caller knows; an outcome or a state change is kept and tried again on the
    /// next round (its task stays leased to this live worker meanwhile). When the
    /// worker stops with such writes still failing, it lets them go: its lease expires
    /// and another worker runs those tasks again.
    fn failed(&mut self, op: Op, e: &rusqlite::Error, stopping: bool) -> Vec<Reply> {
        let keep = matches!(
            op,
            Op::Finish { .. } | Op::Retry { .. } | Op::Started { .. } | Op::Release { .. }
        );
        if keep && !stopping {
            self.carry.push(op);
            return Vec::new();
        }
        failure_replies(std::slice::from_ref(&op), e)
    }

    fn transaction(
        &mut self,
        ops: &[Op],
        now: u64,
        changed: bool,
        stopping: bool,
        replies: &mut Vec<Reply>,
    ) -> rusqlite::Result<()> {
        let mut attempts = 0;
        loop {
            replies.clear();
            let r = self.try_transaction(ops, now, changed, stopping, replies);
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
        ops: &[Op],
        now: u64,
        changed: bool,
        stopping: bool,
        replies: &mut Vec<Reply>,
    ) -> rusqlite::Result<()> {
        let me = self.cfg.worker_id.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut settled = Vec::new();
        let mut requeued = Vec::new();
        let mut adopt_requested = false;
        let mut new_parked = None;
        let mut inserted = false;
        let mut names_changed = std::mem::take(&mut self.recheck_outlook);
        let mut inserted_delayed = false;
        // Outcomes of this batch as one JSON array (see `push_outcome`).
        let mut finishes = String::new();
        let outcome_in_batch: rustc_hash::FxHashSet<i64> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Finish { seq, .. } | Op::Retry { seq, .. } => Some(*seq),
                _ => None,
            })
            .collect();
        if self.cfg.worker && !stopping && now >= self.last_heartbeat + self.cfg.lease_ms / 3 {
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
        for op in ops {
            match op {
                Op::Insert { ticket, tasks } => {
                    let existing = insert_tasks(&tx, tasks, now)?;
                    inserted = true;
                    inserted_delayed |= tasks.iter().any(|t| t.run_at > now);
                    replies.push(Reply::Committed {
                        ticket: *ticket,
                        existing_id: existing,
                    });
                }
                Op::Adopt { wants, limit } => {
                    adopt_requested = true;
                    new_parked = Some((wants.clone(), *limit));
                }
                Op::Finish {
                    slot,
                    seq,
                    id,
                    state,
                    attempt,
                    result,
                    error,
                    started_at,
                    at,
                } => {
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
                    settled.push(*slot);
                }
                Op::Retry {
                    slot,
                    seq,
                    id,
                    error,
                    due_at,
                } => {
                    let due = (*due_at > now).then_some(*due_at as i64);
                    tx.prepare_cached(
                        "UPDATE tasks SET state = 5, error = ?1, due_at = ?2
                         WHERE seq = ?5 AND id = ?3 AND owner = ?4",
                    )?
                    .execute(params![error, due, id.to_string(), me, seq])?;
                    requeued.push(*slot);
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
                Op::Started { seqs, at, .. } => {
                    // A task whose outcome is in this batch too is written once, by its
                    // outcome (which carries its start time): one row update, not two.
                    let seqs: Vec<i64> = seqs
                        .iter()
                        .copied()
                        .filter(|s| !outcome_in_batch.contains(s))
                        .collect();
                    if seqs.is_empty() {
                        continue;
                    }
                    let seqs = serde_json::to_string(&seqs).expect("seqs serialize");
                    tx.prepare_cached(
                        "UPDATE tasks SET state = 2, started_at = ?2
                         WHERE seq IN (SELECT value FROM json_each(?1)) AND owner = ?3 AND state = 1",
                    )?
                    .execute(params![seqs, *at as i64, me])?;
                }
                Op::Release { ids } => {
                    let mut st = tx.prepare_cached(
                        "UPDATE tasks SET state = CASE WHEN attempt <= 1 THEN 0 ELSE 5 END, attempt = attempt - 1,
                         owner = NULL, started_at = NULL WHERE id = ?1 AND owner = ?2",
                    )?;
                    for id in ids {
                        st.execute(params![id.to_string(), me])?;
                    }
                }
                Op::Names(names) => {
                    self.names_json = serde_json::to_string(names).expect("names serialize");
                    names_changed = true;
                }
                Op::Flush { ticket } => replies.push(Reply::Committed {
                    ticket: *ticket,
                    existing_id: None,
                }),
                Op::Retention(own) => self.own_retention = own.clone(),
                Op::Poke => names_changed = true, // the outlook is stale, as after new names
                Op::Events { docs, at } => {
                    tx.prepare_cached("INSERT INTO events (at, origin, docs) VALUES (?1, ?2, ?3)")?
                        .execute(params![*at as i64, me, format!("[{docs}]")])?;
                }
                Op::Stop => {}
            }
        }
        if !finishes.is_empty() {
            finishes.insert(0, '[');
            finishes.push(']');
            // Outcomes in one statement (a guard on owner: a worker whose lease expired
            // and whose task was taken over must not overwrite the new run's outcome).
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
        let known_due = self.shared.next_due.load(Ordering::SeqCst);
        if changed || (known_due != 0 && known_due <= now) {
            tx.prepare_cached(
                "UPDATE tasks SET due_at = NULL WHERE due_at IS NOT NULL AND due_at <= ?1",
            )?
            .execute(params![now as i64])?;
        }
        let trim = now >= self.last_maintenance + MAINTENANCE_EVERY_MS;
        if now >= self.last_heartbeat + self.cfg.lease_ms / 3 || (trim && end_dead_workers(&tx, &me)? > 0) {
            recover_expired(&tx, now)?;
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
                now,
                self.cfg.keep_count,
                self.cfg.keep_age_ms,
                &self.own_retention,
            )?;
            tx.prepare_cached("DELETE FROM events WHERE at < ?1")?
                .execute(params![now.saturating_sub(EVENTS_KEEP_MS) as i64])?;
        }
        // Claims: a new request, or the standing one when something may have changed.
        let (wants, limit) = new_parked
            .clone()
            .unwrap_or_else(|| (self.parked.clone(), self.parked_limit));
        let mut adopted = Vec::new();
        if self.cfg.worker
            && !stopping
            && !wants.is_empty()
            && (adopt_requested || inserted || changed || !self.parked.is_empty())
        {
            adopted = adopt(&tx, &wants, limit, &me)?;
        }
        if stopping {
            tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?
                .execute(params![me])?;
        }
        // The outlook (is there work for this worker, when is the next due time) costs a
        // few queries: worked out when something may have changed it, and at most every
        // OUTLOOK_EVERY_MS in between while a batch of claims and outcomes streams through.
        let outlook = names_changed
            || inserted_delayed
            || changed
            || stopping
            || !requeued.is_empty()
            || (adopted.is_empty() && (adopt_requested || !self.parked.is_empty()))
            || now >= self.last_outlook + OUTLOOK_EVERY_MS;
        let fresh = if outlook {
            let (has_work, next_due) = work_outlook(&tx, self.cfg.worker, &self.names_json)?;
            let holds: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM tasks WHERE state IN (1, 2) AND owner = ?1)",
                )?
                .query_row(params![me], |r| r.get(0))?;
            Some((has_work, next_due, holds))
        } else {
            None
        };
        tx.commit()?;
        // Committed: only now may the host learn of it.
        let (has_work, next_due) = match fresh {
            Some((has_work, next_due, holds)) => {
                self.holds_tasks = holds;
                self.last_outlook = now;
                self.outlook_dirty = false;
                (has_work, next_due)
            }
            None => {
                self.outlook_dirty = true;
                self.holds_tasks |= !adopted.is_empty();
                let has = self.shared.has_work.load(Ordering::SeqCst)
                    || !adopted.is_empty()
                    || (inserted && self.cfg.worker);
                (has, self.shared.next_due.load(Ordering::SeqCst))
            }
        };
        if now >= self.last_heartbeat + self.cfg.lease_ms / 3 {
            self.last_heartbeat = now;
        }
        if trim {
            self.last_maintenance = now;
        }
        if new_parked.is_some() || !adopted.is_empty() {
            self.parked = if adopted.is_empty() {
                wants
            } else {
                Vec::new()
            };
            self.parked_limit = limit;
        }
        if !adopted.is_empty() {
            replies.push(Reply::Adopted(adopted));
        } else if new_parked.as_ref().is_some_and(|w| w.0.is_empty()) {
            replies.push(Reply::Adopted(Vec::new())); // a withdrawal is answered too
        }
        if !settled.is_empty() {
            replies.push(Reply::Settled(settled));
        }
        if !requeued.is_empty() {
            replies.push(Reply::Requeued(requeued));
        }
        let mut before = self.shared.has_work.swap(has_work, Ordering::SeqCst);
        if names_changed {
            if self.shared.stale_marks.load(Ordering::SeqCst) != self.marks_taken {
                self.recheck_outlook = true; // an op marked stale may still be on its way
            } else if self.shared.outlook_stale.swap(false, Ordering::SeqCst) {
                before = !has_work; // the host saw "maybe": tell it what it is
            }
        }
        let due_before = self.shared.next_due.swap(next_due, Ordering::SeqCst);
        if (before != has_work || due_before != next_due) && replies.is_empty() {
            self.shared.wake();
        }
        Ok(())
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
                "SELECT EXISTS (SELECT 1 FROM json_each(?1) AS l JOIN tasks AS t
                   ON t.name = json_extract(l.value, '$[0]') AND t.queue = json_extract(l.value, '$[1]')
                   WHERE t.state IN (0, 5) AND t.due_at IS NULL
                     AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE queue = t.queue))
                 OR EXISTS (SELECT 1 FROM tasks WHERE state IN (1, 2)
                   AND name IN (SELECT json_extract(value, '$[0]') FROM json_each(?1)))",
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

fn failure_replies(ops: &[Op], e: &rusqlite::Error) -> Vec<Reply> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Insert { ticket, .. } | Op::Flush { ticket } => out.push(Reply::Rejected {
                ticket: *ticket,
                error: format!(
                    "the SQLite store failed to commit: {}",
                    errors::describe(e)
                ),
            }),
            Op::Finish { slot, .. } => out.push(Reply::Settled(vec![*slot])),
            Op::Retry { slot, .. } => out.push(Reply::Requeued(vec![*slot])),
            Op::Adopt { .. } => out.push(Reply::Adopted(Vec::new())),
            _ => {}
        }
    }
    out
}

/// Inserts tasks; with an idempotency key that a task already has, returns that task's id.
pub(super) fn insert_tasks(
    tx: &Transaction,
    tasks: &[NewTask],
    now: u64,
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
        tx.prepare_cached(
            "INSERT INTO tasks (id, name, queue, state, priority, max_attempts, payload, created_at, run_at, due_at, trace)
             SELECT j.value ->> 0, ?1, ?2, 0, ?3, ?4, j.value ->> 1, ?5, ?6, ?7, ?9 FROM json_each(?8) AS j",
        )?
        .execute(params![&*t.name, &*t.queue, t.priority, t.max_attempts, t.created_at as i64, run_at, due_at, rows, t.trace.as_deref()])?;
        return Ok(None);
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO tasks (id, name, queue, state, priority, max_attempts, payload, key, created_at, run_at, due_at, trace)
         VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING",
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
fn adopt(tx: &Transaction, wants: &[Want], limit: u32, me: &str) -> rusqlite::Result<Vec<Adopted>> {
    // Each name's line is read from its index in order, so the cost does not grow
    // with the backlog.
    let mut heads: Vec<(i32, i64, u32)> = Vec::new();
    let mut line = tx.prepare_cached(
        "SELECT priority, seq FROM tasks WHERE name = ?1 AND queue = ?3 AND state IN (0, 5) AND due_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE queue = ?3)
         ORDER BY priority DESC, seq LIMIT ?2",
    )?;
    for w in wants {
        let max = w.max.min(limit);
        if max == 0 {
            continue;
        }
        let rows = line.query_map(params![w.name, max, w.queue], |r| {
            Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)?, w.def))
        })?;
        for row in rows {
            heads.push(row?);
        }
    }
    heads.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    heads.truncate(limit as usize);
    // One statement for the whole batch: per-row statements cost more than the rows.
    let defs: rustc_hash::FxHashMap<i64, u32> = heads.iter().map(|h| (h.1, h.2)).collect();
    let seqs = serde_json::to_string(&heads.iter().map(|h| h.1).collect::<Vec<_>>()).expect("seqs");
    let mut take = tx.prepare_cached(
        "UPDATE tasks SET state = 1, owner = ?1, attempt = attempt + 1, started_at = NULL,
           cancel_requested = CASE WHEN cancel_requested = 0 THEN 0 ELSE 2 END
         WHERE seq IN (SELECT value FROM json_each(?2))
         RETURNING seq, id, priority, attempt, payload, created_at, run_at, key, error, cancel_requested, trace",
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
fn recover_expired(tx: &Transaction, now: u64) -> rusqlite::Result<usize> {
    let retry_err = worker_lost_error(false);
    let fail_err = worker_lost_error(true);
    let n = tx
        .prepare_cached(
            "UPDATE tasks SET
               state = CASE WHEN attempt > max_attempts THEN ?1 ELSE ?2 END,
               error = CASE WHEN attempt > max_attempts THEN ?3 ELSE ?4 END,
               completed_at = CASE WHEN attempt > max_attempts THEN ?5 ELSE NULL END,
               due_at = NULL
             WHERE state IN (1, 2) AND owner NOT IN (SELECT id FROM workers WHERE expires_at >= ?5)",
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
        "UPDATE tasks SET cancel_requested = 2 WHERE state IN (1, 2) AND owner = ?1 AND cancel_requested = 1 RETURNING id",
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
    now: u64,
    keep_count: usize,
    keep_age_ms: Option<u64>,
    own: &[(String, usize, Option<u64>)],
) -> rusqlite::Result<()> {
    let mut remaining = TRIM_CHUNK;
    for (name, count, age) in own {
        remaining -= trim_group(tx, now, *count, *age, Some(name), None, remaining)?;
    }
    let own_names =
        serde_json::to_string(&own.iter().map(|o| &o.0).collect::<Vec<_>>()).expect("names");
    trim_group(
        tx,
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
fn trim_group(
    tx: &Transaction,
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
                &format!("SELECT count(*) FROM tasks WHERE state IN (3, 4, 6) AND {scope}")
                    .replace("?3", "?1")
                    .replace("?4", "?2"),
            )?
            .query_row(params![name, except], |r| r.get(0))?;
        let excess = (finished - keep_count as i64).min(remaining);
        if excess > 0 {
            let cutoff: Option<i64> = tx
                .prepare_cached(&format!(
                    "SELECT completed_at FROM tasks WHERE state IN (3, 4, 6) AND {scope}
                     ORDER BY completed_at LIMIT 1 OFFSET ?1"
                ))?
                .query_row(
                    params![excess - 1, Option::<i64>::None, name, except],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(c) = cutoff {
                deleted += delete_finished(
                    tx,
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

fn delete_finished(
    tx: &Transaction,
    condition: &str,
    value: i64,
    limit: i64,
    name: Option<&str>,
    except: Option<&str>,
) -> rusqlite::Result<i64> {
    let sql = format!(
        "DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE state IN (3, 4, 6) AND {condition}
         ORDER BY completed_at LIMIT ?2) RETURNING id"
    );
    let mut st = tx.prepare_cached(&sql)?;
    let ids: Vec<String> = st
        .query_map(params![value, limit, name, except], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut logs = tx.prepare_cached("DELETE FROM task_logs WHERE task_id = ?1")?;
    for id in &ids {
        logs.execute(params![id])?;
    }
    Ok(ids.len() as i64)
}

//! The SQLite store: one file, no server, nothing lost when a process is killed.
//!
//! The engine keeps in memory only what this process works on right now (tasks it has
//! claimed, running or about to run); the file holds everything else. Writes go to one
//! writer thread ([`writer`]) that commits them in groups; reads (`state`, `info`,
//! `list`, `counts`) use a second connection on the caller's thread — WAL mode, so they
//! never wait for the writer. Several processes may open one file: each claims tasks
//! under its own lease, renewed while it lives.

/// A task state, or a group of them, as SQL text: statements are built with `concat!`
/// so that they name states and still match the partial indexes of `schema.rs` word for
/// word (`schema::tests` checks these against the state codes).
macro_rules! sql_state {
    (PENDING) => { "0" };
    (RECEIVED) => { "1" };
    (STARTED) => { "2" };
    (SUCCESS) => { "3" };
    (FAILURE) => { "4" };
    (RETRY) => { "5" };
    (REVOKED) => { "6" };
    // Ready to claim (unless due later), held by a worker, finished.
    (READY) => { "(0, 5)" };
    (HELD) => { "(1, 2)" };
    (FINISHED) => { "(3, 4, 6)" };
}

pub mod errors;
mod control;
mod counts;
mod events;
mod registry;
pub mod schema;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::error::{EngineError, Result};
use crate::store::protocol::page;
pub use crate::store::protocol::{
    Adopted, ListQuery, NewTask, Op, Reply, Shared, StoredCancel, Want,
};
use crate::task::{TaskId, TaskState};
pub use writer::WriterConfig;

/// What the SQLite store needs to know: the file, and its writer's settings.
pub struct SqliteSettings {
    pub path: PathBuf,
    pub writer: WriterConfig,
}

pub struct SqliteStore {
    tx: Sender<Op>,
    shared: Arc<Shared>,
    /// The caller's connection; None once stopped (reads after `close()` open one that
    /// is dropped right after, so a closed executor holds no file open).
    reader: Option<Connection>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    seen_version: i64,
    clock: Arc<dyn Clock>,
    /// While watching: finishes from this `completed_at` on are read (-1: not watching).
    fin_cursor: std::sync::atomic::AtomicI64,
    /// This process's worker id: its own logged events are not read back.
    me: String,
    /// While listening: the last event row read (see `events.rs`).
    events: events::Cursor,
}

/// How far behind the newest finish seen the next look starts: a finish committed up to
/// this late (another process's writer round) is still seen.
const FINISH_SLACK_MS: i64 = 250;

fn state_of(code: i64) -> TaskState {
    TaskState::ALL
        .get(code as usize)
        .copied()
        .unwrap_or(TaskState::Pending)
}

fn query_error(path: &Path, e: rusqlite::Error) -> EngineError {
    EngineError::Store(format!(
        "the SQLite store '{}' failed: {}",
        path.display(),
        errors::describe(&e)
    ))
}

/// A read connection: the store's own, or one opened for a read after `stop`.
enum ReaderRef<'a> {
    Open(&'a Connection),
    Once(Connection),
}

impl std::ops::Deref for ReaderRef<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            ReaderRef::Open(c) => c,
            ReaderRef::Once(c) => c,
        }
    }
}

/// The columns `info` reads, in the order `row_info` expects.
const INFO_COLUMNS: &str =
    "id, name, queue, state, payload, result, error, attempt, priority, progress, \
     progress_message, status, key, created_at, run_at, started_at, completed_at, owner, seq";

impl SqliteStore {
    pub fn open(settings: SqliteSettings, clock: Arc<dyn Clock>) -> Result<SqliteStore> {
        let conn = schema::open(&settings.path)?;
        counts::disable_triggers(&conn).map_err(|e| query_error(&settings.path, e))?;
        let reader = schema::connect(&settings.path, schema::READER_CACHE_KIB)?;
        let shared = Arc::new(Shared::default());
        let (tx, rx) = channel();
        let me = settings.writer.worker_id.clone();
        let w = writer::Writer::new(conn, settings.writer, clock.clone(), shared.clone());
        let thread = std::thread::Builder::new()
            .name("taskloom-sqlite-writer".into())
            .spawn(move || w.run(rx))
            .map_err(|e| {
                EngineError::Store(format!("cannot start the SQLite writer thread: {e}"))
            })?;
        Ok(SqliteStore {
            tx,
            shared,
            reader: Some(reader),
            thread: Some(thread),
            path: settings.path,
            seen_version: -1,
            clock,
            fin_cursor: std::sync::atomic::AtomicI64::new(-1),
            me,
            events: events::Cursor::default(),
        })
    }

    pub fn send(&self, op: Op) {
        // The writer only ends after `stop`, and then nothing sends any more.
        let _ = self.tx.send(op);
    }

    pub fn take_replies(&self) -> Vec<Reply> {
        self.shared.take()
    }

    pub fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        *self.shared.waker.lock().expect("waker lock") = Some(waker);
    }

    /// Whether the file holds unfinished tasks this worker could run; "yes" until the
    /// writer has looked for the task names last sent.
    pub fn has_work(&self) -> bool {
        self.shared.outlook_stale.load(Ordering::SeqCst)
            || self.shared.has_work.load(Ordering::SeqCst)
    }

    /// Inserts a few tasks and commits them on the caller's thread, for a submit that
    /// finds the writer with nothing queued: no thread hop each way, so a loop of awaited
    /// single submits runs at the speed of a commit. The writer is then poked, to claim
    /// them if this process runs them. Returns the existing id if a key matched.
    pub fn insert_now(&mut self, tasks: &[NewTask], now: u64) -> Result<Option<String>> {
        if self.shared.failing.load(Ordering::SeqCst) {
            // The writer checkpoints before it writes again: it takes this submit.
            return Err(EngineError::Store("the store is recovering from a fault".into()));
        }
        let existing = self.write_here(|tx| writer::insert_tasks(tx, tasks, now, None))?;
        self.shared.mark_stale(|| self.send(Op::Poke));
        Ok(existing)
    }

    /// Sends the task names this worker runs.
    pub fn set_names(&self, names: Vec<crate::store::protocol::Line>) {
        self.shared.mark_stale(|| self.send(Op::Names(names)));
    }

    /// The earliest due time of a delayed task or retry in the file, if any.
    pub fn next_due(&self) -> Option<u64> {
        Some(self.shared.next_due.load(Ordering::SeqCst)).filter(|d| *d > 0)
    }

    /// Whether the writer thread is still there to take ops.
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    /// Commits what was sent, gives up this worker's lease and ends the writer. Blocks
    /// until the last transaction has committed.
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.send(Op::Stop);
            let _ = t.join();
        }
        self.reader = None;
    }

    /// The connection for reads: the caller's own while open; once stopped, a fresh one
    /// that closes when the read is done.
    fn reader(&self) -> Result<ReaderRef<'_>> {
        match &self.reader {
            Some(c) => Ok(ReaderRef::Open(c)),
            None => schema::connect(&self.path, schema::READER_CACHE_KIB).map(ReaderRef::Once),
        }
    }

    /// Whether anyone committed to the file since the last call (cheap: no table read).
    pub fn changed(&mut self) -> bool {
        let v: i64 = self
            .reader
            .as_ref()
            .and_then(|c| c.query_row("PRAGMA data_version", [], |r| r.get(0)).ok())
            .unwrap_or(0);
        let changed = v != self.seen_version;
        self.seen_version = v;
        changed
    }

    pub fn state(&self, id: &TaskId) -> Result<Option<TaskState>> {
        self.reader()?
            .prepare_cached("SELECT state FROM tasks WHERE id = ?1")
            .and_then(|mut st| {
                st.query_row(params![id.to_string()], |r| r.get::<_, i64>(0))
                    .optional()
            })
            .map(|s| s.map(state_of))
            .map_err(|e| query_error(&self.path, e))
    }

    /// The task as `info()` shows it (JSON object), or None.
    pub fn info(&self, id: &TaskId) -> Result<Option<Value>> {
        let sql = format!("SELECT {INFO_COLUMNS} FROM tasks WHERE id = ?1");
        let row = self
            .reader()?
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row(params![id.to_string()], row_info).optional())
            .map_err(|e| query_error(&self.path, e))?;
        let Some(mut info) = row else { return Ok(None) };
        let logs = self
            .reader()?
            .prepare_cached("SELECT time, level, message FROM task_logs WHERE task_id = ?1 ORDER BY rowid")
            .and_then(|mut st| {
                st.query_map(params![id.to_string()], |r| {
                    Ok(json!({ "time": r.get::<_, i64>(0)?, "level": r.get::<_, String>(1)?, "message": r.get::<_, String>(2)? }))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| query_error(&self.path, e))?;
        info["logs"] = Value::Array(logs);
        if let Some(o) = info.as_object_mut() {
            o.remove("seq");
        }
        Ok(Some(info))
    }

    /// Of `ids`, those that have finished, with their info.
    pub fn finished_among(&self, ids: &[TaskId]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let list =
                serde_json::to_string(&chunk.iter().map(|i| i.to_string()).collect::<Vec<_>>())
                    .expect("ids");
            let found: Vec<(String, bool)> = self
                .reader()?
                .prepare_cached(
                    concat!("SELECT id, state IN ", sql_state!(FINISHED), " FROM tasks WHERE id IN (SELECT value FROM json_each(?1))"),
                )
                .and_then(|mut st| {
                    st.query_map(params![list], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .map_err(|e| query_error(&self.path, e))?;
            let present: std::collections::HashSet<&str> =
                found.iter().map(|(id, _)| id.as_str()).collect();
            for id in chunk {
                let text = id.to_string();
                if !present.contains(text.as_str()) {
                    out.push(json!({ "id": text, "missing": true }));
                }
            }
            for (id, _) in found.iter().filter(|(_, fin)| *fin) {
                if let Ok(id) = uuid::Uuid::try_parse(id) {
                    if let Some(info) = self.info(&id)? {
                        out.push(info);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Cancels a task held by no one in this process: REVOKED if it waits, a request to
    /// its worker if it runs elsewhere.
    pub fn cancel(&mut self, id: &TaskId, now: u64, me: &str) -> Result<Option<StoredCancel>> {
        self.write_here(|tx| cancel_in(tx, id, now, me))
    }

    /// Runs `f` in a write transaction on the caller's connection and commits it.
    fn write_here<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .reader
            .as_mut()
            .ok_or(EngineError::Closed)?
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| query_error(&path, e))?;
        let out = f(&tx).map_err(|e| query_error(&path, e))?;
        tx.commit().map_err(|e| query_error(&path, e))?;
        Ok(out)
    }
}

impl SqliteStore {
    pub fn id_by_key(&self, key: &str) -> Result<Option<TaskId>> {
        let id: Option<String> = self
            .reader()?
            .prepare_cached("SELECT id FROM tasks WHERE key = ?1")
            .and_then(|mut st| st.query_row(params![key], |r| r.get(0)).optional())
            .map_err(|e| query_error(&self.path, e))?;
        Ok(id.and_then(|id| uuid::Uuid::try_parse(&id).ok()))
    }

    pub fn schedules(&self) -> Result<Vec<(String, u64)>> {
        let reader = self.reader()?;
        let mut st = reader
            .prepare_cached("SELECT doc, next_at FROM schedules ORDER BY id")
            .map_err(|e| query_error(&self.path, e))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| query_error(&self.path, e))?;
        Ok(rows)
    }

    pub fn put_schedule(&mut self, id: &str, doc: &str, next_at: u64) -> Result<()> {
        self.write_here(|tx| {
            tx.execute(
                "INSERT INTO schedules (id, doc, next_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, next_at = excluded.next_at",
                params![id, doc, next_at as i64],
            )
            .map(|_| ())
        })
    }

    pub fn advance_schedule(&mut self, id: &str, next_at: u64) -> Result<()> {
        self.write_here(|tx| {
            tx.execute(
                "UPDATE schedules SET next_at = ?2 WHERE id = ?1 AND next_at < ?2",
                params![id, next_at as i64],
            )
            .map(|_| ())
        })
    }

    pub fn remove_schedule(&mut self, id: &str) -> Result<bool> {
        self.write_here(|tx| tx.execute("DELETE FROM schedules WHERE id = ?1", params![id]))
            .map(|n| n > 0)
    }
}

/// `SqliteStore::cancel` inside its transaction.
fn cancel_in(
    tx: &rusqlite::Transaction,
    id: &TaskId,
    now: u64,
    me: &str,
) -> rusqlite::Result<Option<StoredCancel>> {
    let row: Option<(i64, Option<String>)> = tx
        .query_row(
            "SELECT state, owner FROM tasks WHERE id = ?1",
            params![id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let mine = row
        .as_ref()
        .is_some_and(|(_, owner)| owner.as_deref() == Some(me));
    Ok(match row.map(|(s, _)| state_of(s)) {
        None => None,
        Some(TaskState::Pending | TaskState::Retry) => {
            tx.execute(
                concat!("UPDATE tasks SET state = ", sql_state!(REVOKED), ", completed_at = ?1, due_at = NULL WHERE id = ?2"),
                params![now as i64, id.to_string()],
            )?;
            Some(StoredCancel::Revoked)
        }
        Some(TaskState::Received | TaskState::Started) if mine => Some(StoredCancel::ClaimedHere),
        Some(TaskState::Received | TaskState::Started) => {
            tx.execute(
                "UPDATE tasks SET cancel_requested = 1 WHERE id = ?1",
                params![id.to_string()],
            )?;
            Some(StoredCancel::Requested)
        }
        Some(s) => Some(StoredCancel::AlreadyFinal(s)),
    })
}

impl SqliteStore {
    /// A page of tasks, oldest (or newest) first, starting past seq `after`:
    /// `{ tasks: [info…], cursor }` (cursor null on the last page).
    pub fn list(&self, q: &ListQuery, limit: usize, after: i64) -> Result<Value> {
        let state = q.state.as_deref().map(TaskState::parse).transpose()?;
        let newest = q.newest_first()?;
        let mut sql = format!(
            "SELECT {INFO_COLUMNS} FROM tasks WHERE seq {} ?1",
            if newest { "<" } else { ">" }
        );
        if state.is_some() {
            sql.push_str(" AND state = ?2");
        }
        if q.name.is_some() {
            sql.push_str(" AND name = ?3");
        }
        if q.queue.is_some() {
            sql.push_str(" AND queue = ?4");
        }
        sql.push_str(if newest {
            " ORDER BY seq DESC LIMIT ?5"
        } else {
            " ORDER BY seq LIMIT ?5"
        });
        let code =
            state.map(|s| TaskState::ALL.iter().position(|x| *x == s).expect("state") as i64);
        let rows: Vec<Value> = self
            .reader()?
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(
                    params![after, code, q.name, q.queue, (limit + 1) as i64],
                    row_info,
                )?
                .collect()
            })
            .map_err(|e| query_error(&self.path, e))?;
        page(rows, limit)
    }

    /// Tasks per state, in total and per queue (kept by the schema's count triggers).
    pub fn counts(&self) -> Result<Vec<(String, TaskState, u64)>> {
        self.reader()?
            .prepare_cached("SELECT queue, state, n FROM task_counts WHERE n > 0")
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        state_of(r.get(1)?),
                        r.get::<_, i64>(2)? as u64,
                    ))
                })?
                .collect()
            })
            .map_err(|e| query_error(&self.path, e))
    }
}

fn raw_json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn row_info(r: &rusqlite::Row) -> rusqlite::Result<Value> {
    let state = state_of(r.get(3)?);
    let attempt: u32 = r.get(7)?;
    let retries = if state == TaskState::Retry {
        attempt
    } else {
        attempt.saturating_sub(1)
    };
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "name": r.get::<_, String>(1)?,
        "queue": r.get::<_, String>(2)?,
        "state": state.as_str(),
        // Texts, never parsed here (see `TaskInfoView`).
        "payload": r.get::<_, String>(4)?,
        "result": r.get::<_, Option<String>>(5)?,
        "error": raw_json(r.get(6)?),
        "attempt": attempt,
        "retries": retries,
        "priority": r.get::<_, i64>(8)?,
        "progress": r.get::<_, Option<f64>>(9)?,
        "progressMessage": r.get::<_, Option<String>>(10)?,
        "status": r.get::<_, Option<String>>(11)?,
        "logs": [],
        "key": r.get::<_, Option<String>>(12)?,
        "createdAt": r.get::<_, i64>(13)?,
        "runAt": r.get::<_, Option<i64>>(14)?,
        "startedAt": r.get::<_, Option<i64>>(15)?,
        "completedAt": r.get::<_, Option<i64>>(16)?,
        "workerId": r.get::<_, Option<String>>(17)?,
        "seq": r.get::<_, i64>(18)?,
    }))
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop();
    }
}

impl crate::store::protocol::DurableStore for SqliteStore {
    fn send(&self, op: Op) {
        SqliteStore::send(self, op)
    }
    fn take_replies(&self) -> Vec<Reply> {
        SqliteStore::take_replies(self)
    }
    fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        SqliteStore::set_waker(self, waker)
    }
    fn has_work(&self) -> bool {
        SqliteStore::has_work(self)
    }
    fn next_due(&self) -> Option<u64> {
        SqliteStore::next_due(self)
    }
    fn set_names(&self, names: Vec<crate::store::protocol::Line>) {
        SqliteStore::set_names(self, names)
    }
    fn is_running(&self) -> bool {
        SqliteStore::is_running(self)
    }
    fn stop(&mut self) {
        SqliteStore::stop(self)
    }
    fn changed(&mut self) -> bool {
        SqliteStore::changed(self)
    }
    fn set_watching(&self, watching: bool) {
        let now = self.clock.now_ms() as i64;
        if !watching {
            self.fin_cursor.store(-1, Ordering::SeqCst);
        } else if self.fin_cursor.load(Ordering::SeqCst) < 0 {
            self.fin_cursor
                .store(now - FINISH_SLACK_MS, Ordering::SeqCst);
        }
    }
    fn finished_since(&mut self) -> Option<Vec<TaskId>> {
        let from = self.fin_cursor.load(Ordering::SeqCst);
        if from < 0 {
            return None;
        }
        let reader = self.reader().ok()?;
        let mut st = reader
            .prepare_cached(
                concat!("SELECT id, completed_at FROM tasks WHERE state IN ", sql_state!(FINISHED), " AND completed_at >= ?1"),
            )
            .ok()?;
        let rows: Vec<(String, i64)> = st
            .query_map(params![from], |r| Ok((r.get(0)?, r.get(1)?)))
            .ok()?
            .collect::<rusqlite::Result<_>>()
            .ok()?;
        let newest = rows.iter().map(|r| r.1).max().unwrap_or(from);
        self.fin_cursor
            .store(from.max(newest - FINISH_SLACK_MS), Ordering::SeqCst);
        Some(
            rows.into_iter()
                .filter_map(|(id, _)| uuid::Uuid::try_parse(&id).ok())
                .collect(),
        )
    }
    fn state(&self, id: &TaskId) -> Result<Option<TaskState>> {
        SqliteStore::state(self, id)
    }
    fn info(&self, id: &TaskId) -> Result<Option<Value>> {
        SqliteStore::info(self, id)
    }
    fn finished_among(&self, ids: &[TaskId]) -> Result<Vec<Value>> {
        SqliteStore::finished_among(self, ids)
    }
    fn cancel(&mut self, id: &TaskId, now: u64, me: &str) -> Result<Option<StoredCancel>> {
        SqliteStore::cancel(self, id, now, me)
    }
    fn insert_now(&mut self, tasks: &[NewTask], now: u64) -> Result<Option<String>> {
        SqliteStore::insert_now(self, tasks, now)
    }
    fn list(&self, q: &ListQuery, limit: usize, after: i64) -> Result<Value> {
        SqliteStore::list(self, q, limit, after)
    }
    fn counts(&self) -> Result<Vec<(String, TaskState, u64)>> {
        SqliteStore::counts(self)
    }
    fn id_by_key(&self, key: &str) -> Result<Option<TaskId>> {
        SqliteStore::id_by_key(self, key)
    }
    fn schedules(&self) -> Result<Vec<(String, u64)>> {
        SqliteStore::schedules(self)
    }
    fn put_schedule(&mut self, id: &str, doc: &str, next_at: u64) -> Result<()> {
        SqliteStore::put_schedule(self, id, doc, next_at)
    }
    fn advance_schedule(&mut self, id: &str, next_at: u64) -> Result<()> {
        SqliteStore::advance_schedule(self, id, next_at)
    }
    fn remove_schedule(&mut self, id: &str) -> Result<bool> {
        SqliteStore::remove_schedule(self, id)
    }
    fn publish_definition(
        &mut self,
        name: &str,
        worker: &str,
        doc: &str,
        now: u64,
        stale_ms: u64,
    ) -> Result<()> {
        SqliteStore::publish_definition(self, name, worker, doc, now, stale_ms)
    }
    fn definitions(&self, name: Option<&str>) -> Result<Vec<crate::store::protocol::StoredDefinition>> {
        SqliteStore::definitions(self, name)
    }
    fn set_queue_paused(&mut self, queue: &str, paused: bool, now: u64) -> Result<bool> {
        SqliteStore::set_queue_paused(self, queue, paused, now)
    }
    fn paused_queues(&self) -> Result<Vec<String>> {
        SqliteStore::paused_queues(self)
    }
    fn save_artifact(&mut self, task: &TaskId, doc: &str, max: usize) -> Result<Option<u64>> {
        SqliteStore::save_artifact(self, task, doc, max)
    }
    fn artifacts(&self, task: &TaskId) -> Result<Vec<(u64, String)>> {
        SqliteStore::artifacts(self, task)
    }
    fn set_remote_events(&self, on: bool) {
        SqliteStore::set_listening(self, on)
    }
    fn listeners_elsewhere(&self) -> bool {
        self.shared.listeners_elsewhere.load(Ordering::SeqCst)
    }
    fn events_due(&self, now: u64) -> bool {
        self.events.due(now)
    }
    fn read_events(&mut self) -> Vec<String> {
        SqliteStore::read_events(self)
    }
    fn requeue(&mut self, id: &TaskId) -> Result<crate::store::protocol::ActionOutcome> {
        SqliteStore::requeue(self, id)
    }
    fn remove(&mut self, id: &TaskId) -> Result<crate::store::protocol::ActionOutcome> {
        SqliteStore::remove(self, id)
    }
    fn clean(&mut self, filter: &crate::store::protocol::CleanFilter) -> Result<u64> {
        SqliteStore::clean(self, filter)
    }
    fn drain(&mut self, queue: &str) -> Result<u64> {
        SqliteStore::drain(self, queue)
    }
}

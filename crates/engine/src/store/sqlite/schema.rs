//! The SQLite file: checking that a path may be opened (before anything is written to
//! it), the versioned schema and its migrations, and the connection settings.
//!
//! A file is taskloom's when its `application_id` says so. A file that is not SQLite, is
//! corrupt, belongs to another application or comes from a newer taskloom is refused
//! with an error naming the path, and is left exactly as it was.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::error::{EngineError, Result};

/// `PRAGMA application_id` of a taskloom database: "TLOM".
pub const APPLICATION_ID: i32 = 0x544c_4f4d;
/// The schema this build writes; `PRAGMA user_version` of the file.
pub const SCHEMA_VERSION: i32 = 6;
/// Page caches: the writer's holds the hot ends of the lines and indexes; the reader's
/// only serves lookups by id and listings.
pub const WRITER_CACHE_KIB: u32 = 8 * 1024;
pub const READER_CACHE_KIB: u32 = 2 * 1024;

/// States as stored: the index of `TaskState::ALL`.
pub const PENDING: i64 = 0;
pub const RECEIVED: i64 = 1;
pub const STARTED: i64 = 2;
pub const SUCCESS: i64 = 3;
pub const FAILURE: i64 = 4;
pub const RETRY: i64 = 5;
pub const REVOKED: i64 = 6;

/// Migrations by the version they lead to; migration `i` takes a file from version `i`
/// to `i + 1`. Append, never edit: files in the field carry the old versions.
const MIGRATIONS: &[&str] = &[
    // 1: tasks, their logs, and the workers whose leases cover running tasks.
    "CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY,          -- FIFO order
        id TEXT NOT NULL UNIQUE,          -- UUID v7
        name TEXT NOT NULL,
        queue TEXT NOT NULL,
        state INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,    -- for tasks whose worker died (expired lease)
        payload TEXT NOT NULL,
        result TEXT,
        error TEXT,
        progress REAL,
        progress_message TEXT,
        status TEXT,
        key TEXT,
        created_at INTEGER NOT NULL,
        run_at INTEGER,
        due_at INTEGER,                   -- set while delayed or waiting to retry
        started_at INTEGER,
        completed_at INTEGER,
        owner TEXT,                       -- worker holding the lease while RECEIVED/STARTED
        cancel_requested INTEGER NOT NULL DEFAULT 0
     );
     -- Claims read one name's line in order: cost stays flat as the backlog grows.
     CREATE INDEX tasks_ready ON tasks(name, priority DESC, seq) WHERE state IN (0, 5) AND due_at IS NULL;
     CREATE INDEX tasks_waiting ON tasks(due_at) WHERE due_at IS NOT NULL;
     CREATE INDEX tasks_running ON tasks(owner) WHERE state IN (1, 2);
     CREATE INDEX tasks_finished ON tasks(completed_at) WHERE state IN (3, 4, 6);
     CREATE UNIQUE INDEX tasks_key ON tasks(key) WHERE key IS NOT NULL;
     CREATE TABLE task_logs (
        task_id TEXT NOT NULL,
        time INTEGER NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL
     );
     CREATE INDEX task_logs_task ON task_logs(task_id);
     CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
     );",
    // 2: cron schedules (the definition as JSON; the next tick apart, so that firing a
    // tick and pausing a schedule never overwrite each other).
    "CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        next_at INTEGER NOT NULL
     );",
    // 3: the shared registry (each worker's definition of each task it runs), paused
    // queues, ready lines per (name, queue) (a worker claims only its queues' tasks), and
    // the event log with its listeners.
    "CREATE TABLE definitions (
        name TEXT NOT NULL,
        worker TEXT NOT NULL,
        doc TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        PRIMARY KEY (name, worker)
     ) WITHOUT ROWID;
     CREATE TABLE paused_queues (
        queue TEXT PRIMARY KEY,
        paused_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     -- Task events for listeners in other processes: one row per writer batch (a JSON
     -- array of documents), read by seq from a cursor, kept about a minute.
     CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        origin TEXT NOT NULL,
        docs TEXT NOT NULL
     );
     -- Processes listening to those events, while their registration is renewed.
     CREATE TABLE listeners (
        id TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     DROP INDEX tasks_ready;
     CREATE INDEX tasks_ready ON tasks(name, queue, priority DESC, seq) WHERE state IN (0, 5) AND due_at IS NULL;
     -- The W3C traceparent of the span active at submit (tracing), for the run's span.
     ALTER TABLE tasks ADD COLUMN trace TEXT;",
    // 4: artifacts saved by tasks (engine/artifacts.rs), deleted with their task by a
    // trigger, so that every way a task goes (remove, clean, drain, retention) takes them.
    "CREATE TABLE artifacts (
        task_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (task_id, n)
     ) WITHOUT ROWID;
     CREATE TRIGGER tasks_artifacts_go AFTER DELETE ON tasks
     BEGIN DELETE FROM artifacts WHERE task_id = old.id; END;",
    // 5: tasks per queue and state, kept by triggers on every way a task is stored,
    // changes state or goes, so that counts() reads a few rows instead of every task
    // (GROUP BY over a million tasks took about a second, on the caller's thread).
    // The writer's connection runs with triggers off and counts itself (counts.rs).
    "CREATE TABLE task_counts (
        queue TEXT NOT NULL,
        state INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (queue, state)
     ) WITHOUT ROWID;
     INSERT INTO task_counts (queue, state, n) SELECT queue, state, count(*) FROM tasks GROUP BY queue, state;
     CREATE TRIGGER tasks_count_in AFTER INSERT ON tasks
     BEGIN
        INSERT INTO task_counts (queue, state, n) VALUES (new.queue, new.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
     END;
     CREATE TRIGGER tasks_count_change AFTER UPDATE OF state, queue ON tasks
     WHEN old.state IS NOT new.state OR old.queue IS NOT new.queue
     BEGIN
        UPDATE task_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
        INSERT INTO task_counts (queue, state, n) VALUES (new.queue, new.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
     END;
     CREATE TRIGGER tasks_count_out AFTER DELETE ON tasks
     BEGIN
        UPDATE task_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
     END;",
    // 6: each worker's host key (store/host.rs), so that a live worker on the same host
    // sees that another's pid is gone and recovers its tasks without waiting for the lease.
    "ALTER TABLE workers ADD COLUMN host TEXT;",
];

/// How long opening waits for other connections' locks: the busy handler's timeout, and
/// the bound of `while_busy`'s retries.
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// Runs `step` again while SQLite answers busy, up to `BUSY_WAIT`. Workers started
/// together race to create one file: a few of SQLite's paths here (the switch of a new
/// file to WAL among them) answer `SQLITE_BUSY` at once, without calling the busy
/// handler, and a worker must wait its turn rather than fail to start.
fn while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + BUSY_WAIT;
    loop {
        match step() {
            Err(e) if super::errors::is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

fn open_error(path: &Path, what: impl std::fmt::Display) -> EngineError {
    EngineError::Store(format!(
        "cannot open the SQLite store '{}': {what}",
        path.display()
    ))
}

/// Checks an existing file without writing to it: SQLite, readable, taskloom's (or
/// empty), and not from a newer schema.
fn check_existing(path: &Path) -> Result<()> {
    let mut header = [0u8; 16];
    let len = std::fs::metadata(path)
        .map_err(|e| open_error(path, e))?
        .len();
    if len == 0 {
        return Ok(());
    }
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| open_error(path, e))?;
        if len < 100 || f.read_exact(&mut header).is_err() || &header != b"SQLite format 3\0" {
            return Err(open_error(path, "the file is not a SQLite database"));
        }
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_WAIT)
        .map_err(|e| open_error(path, e))?;
    let corrupt = |e: rusqlite::Error| {
        open_error(path, format!("the database is corrupt or unreadable ({e})"))
    };
    // One statement, so one snapshot: read apart, another process's migration could
    // commit between the reads and show tables without taskloom's application_id.
    let (app, version, tables) = while_busy(|| {
        conn.query_row(
            "SELECT (SELECT application_id FROM pragma_application_id),
                    (SELECT user_version FROM pragma_user_version),
                    (SELECT count(*) FROM sqlite_master)",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
        )
    })
    .map_err(corrupt)?;
    if app != APPLICATION_ID as i64 && tables > 0 {
        return Err(open_error(
            path,
            "the database belongs to another application (it has tables, none of them taskloom's)",
        ));
    }
    if version > SCHEMA_VERSION as i64 {
        return Err(open_error(
            path,
            format!("the database has schema version {version}, newer than this taskloom's ({SCHEMA_VERSION}); upgrade taskloom"),
        ));
    }
    check_structure(&conn, len).map_err(|problem| {
        open_error(
            path,
            format!("the database is corrupt ({problem}); restore it from a backup, or recover it with the sqlite3 command's .recover"),
        )
    })
}

/// Files up to this size get SQLite's full `quick_check` when opened (tens of
/// milliseconds); larger ones have every table's first page read.
const FULL_CHECK_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A check for damage that a worker would otherwise meet only mid-run: every page of a
/// small file, the root pages of a large one. Corruption found later is reported by the
/// writer (once, with `SQLITE_CORRUPT`) and backed off.
fn check_structure(conn: &Connection, len: u64) -> std::result::Result<(), String> {
    let describe = |e: rusqlite::Error| super::errors::describe(&e);
    if len <= FULL_CHECK_MAX_BYTES {
        let mut st = conn.prepare("PRAGMA quick_check(5)").map_err(describe)?;
        let problems: Vec<String> = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(describe)?
            .collect::<rusqlite::Result<_>>()
            .map_err(describe)?;
        if problems.len() == 1 && problems[0] == "ok" {
            return Ok(());
        }
        return Err(problems.join("; "));
    }
    let mut st = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .map_err(describe)?;
    let tables: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(describe)?
        .collect::<rusqlite::Result<_>>()
        .map_err(describe)?;
    for table in tables {
        // Names come from the file's own schema; quoted, never spliced raw.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        conn.query_row(
            &format!("SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT 1)"),
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| format!("table {table}: {}", describe(e)))?;
    }
    Ok(())
}

/// Opens (creating if needed) a connection with taskloom's settings.
/// `cache_kib`: the page cache of this connection (it counts toward the process's RSS).
pub fn connect(path: &Path, cache_kib: u32) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_WAIT)
        .map_err(|e| open_error(path, e))?;
    // WAL: readers never block the writer. NORMAL sync survives any process crash
    // (kill -9); only a power loss can take the last commits (FULL would fsync each).
    let settings = format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib}; PRAGMA foreign_keys = OFF;"
    );
    while_busy(|| conn.execute_batch(&settings)).map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Validates the file at `path`, then brings it to the current schema. Returns the
/// writer's connection.
pub fn open(path: &Path) -> Result<Connection> {
    if path.exists() {
        if path.is_dir() {
            return Err(open_error(path, "it is a directory"));
        }
        check_existing(path)?;
    } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(open_error(
                path,
                format!("the directory '{}' does not exist", dir.display()),
            ));
        }
    }
    let mut conn = connect(path, WRITER_CACHE_KIB)?;
    while_busy(|| migrate(&mut conn)).map_err(|e| open_error(path, e))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    // Only the migrations past the file's version run, in order.
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= version as usize)
    {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
    tx.commit()
}

/// Runs `sql` on a plain connection to `path` (tools and tests that prepare files).
pub fn execute_raw(path: &Path, sql: &str) -> rusqlite::Result<()> {
    Connection::open(path)?.execute_batch(sql)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskState;

    #[test]
    fn the_sql_state_names_are_the_stored_codes() {
        let code = |s: &str| s.parse::<i64>().unwrap();
        assert_eq!(code(sql_state!(PENDING)), PENDING);
        assert_eq!(code(sql_state!(RECEIVED)), RECEIVED);
        assert_eq!(code(sql_state!(STARTED)), STARTED);
        assert_eq!(code(sql_state!(SUCCESS)), SUCCESS);
        assert_eq!(code(sql_state!(FAILURE)), FAILURE);
        assert_eq!(code(sql_state!(RETRY)), RETRY);
        assert_eq!(code(sql_state!(REVOKED)), REVOKED);
        assert_eq!(sql_state!(READY), format!("({PENDING}, {RETRY})"));
        assert_eq!(sql_state!(HELD), format!("({RECEIVED}, {STARTED})"));
        assert_eq!(sql_state!(FINISHED), format!("({SUCCESS}, {FAILURE}, {REVOKED})"));
        // The codes are the index of `TaskState::ALL`.
        for (i, s) in TaskState::ALL.iter().enumerate() {
            assert_eq!(crate::store::protocol::state_code(*s) as usize, i, "{s:?}");
        }
    }

    #[test]
    fn threads_opening_one_new_file_at_once_all_get_in() {
        // Workers started together race to create the file, switch it to WAL and
        // migrate it; a loser must wait its turn, not fail with "database is locked".
        // Threads share one process's locks, so this race shows more rarely than between
        // processes: durability.test.mjs runs it with real processes.
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tasks.db");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        open(&path).map(|_| ())
                    })
                })
                .collect();
            for o in opens {
                if let Err(e) = o.join().unwrap() {
                    panic!("round {round}: {e}");
                }
            }
        }
    }

    #[test]
    fn queries_name_states_as_the_partial_indexes_do() {
        // The ready index's WHERE, as migration 3 wrote it: queries must say the same.
        let ready_index = MIGRATIONS[2];
        assert!(ready_index.contains(concat!("WHERE state IN ", sql_state!(READY), " AND due_at IS NULL")));
    }
}

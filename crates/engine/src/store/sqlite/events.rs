//! Reading the event log in the SQLite file (written by every process's writer while
//! some process listens; see `engine/event_log.rs`): from a cursor on the row number,
//! every `EVENTS_READ_MS`, leaving out this process's own events.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use rusqlite::params;

use crate::store::writer::chores::LISTENER_TTL_MS;
use super::SqliteStore;
use crate::store::protocol::EVENTS_READ_MS;

/// Where reading stands: the last row read, and when.
#[derive(Default)]
pub struct Cursor {
    on: AtomicBool,
    last_seq: AtomicI64,
    last_read: AtomicU64,
}

impl Cursor {
    pub fn due(&self, now: u64) -> bool {
        self.on.load(Ordering::SeqCst) && now >= self.last_read.load(Ordering::SeqCst) + EVENTS_READ_MS
    }
}

/// Rows read at most per look (a listener that falls behind catches up over a few).
const READ_MAX: i64 = 500;

impl SqliteStore {
    /// Listening begins at the log's end: events from now on. The registration is
    /// written at once (the writer renews it); every writer on the file looks at the
    /// listeners when the file changes, so it logs for this one before it claims a task
    /// submitted after this.
    pub fn set_listening(&self, on: bool) {
        if on && !self.events.on.load(Ordering::SeqCst) {
            if let Ok(r) = self.reader() {
                let until = (self.clock.now_ms() + LISTENER_TTL_MS) as i64;
                let _ = r.execute(
                    "INSERT INTO listeners (id, expires_at) VALUES (?1, ?2)
                     ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at",
                    params![self.me, until],
                );
            }
            let end: i64 = self
                .reader()
                .ok()
                .and_then(|r| r.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).ok())
                .unwrap_or(0);
            self.events.last_seq.store(end, Ordering::SeqCst);
        }
        self.events.on.store(on, Ordering::SeqCst);
        self.shared.listening.store(on, Ordering::SeqCst);
    }

    pub fn read_events(&mut self) -> Vec<String> {
        self.events.last_read.store(self.clock.now_ms(), Ordering::SeqCst);
        let from = self.events.last_seq.load(Ordering::SeqCst);
        let Ok(reader) = self.reader() else { return Vec::new() };
        let rows: Vec<(i64, String, String)> = reader
            .prepare_cached("SELECT seq, origin, docs FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .and_then(|mut st| {
                st.query_map(params![from, READ_MAX], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .unwrap_or_default();
        if let Some(last) = rows.last() {
            self.events.last_seq.store(last.0, Ordering::SeqCst);
        }
        rows.into_iter()
            .filter(|(_, origin, _)| *origin != self.me)
            .map(|(_, _, docs)| docs)
            .collect()
    }
}

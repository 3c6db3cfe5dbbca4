//! Reading the event log in Redis (`{ns}:events`, a stream every process's writer
//! appends to while some process listens; see `engine/event_log.rs`): from a cursor,
//! when a writer announces new entries (`v` on the channel) and at least once a second,
//! leaving out this process's own events.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::keys;
use crate::store::writer::chores::LISTENER_TTL_MS;
use super::RedisStore;

/// Where reading stands.
#[derive(Default)]
pub struct Cursor {
    pub on: AtomicBool,
    /// A writer announced entries since the last read.
    pub notice: AtomicBool,
    last_id: Mutex<String>,
    last_read: AtomicU64,
}

/// Without a notice (a missed message), the log is read this often (ms).
const FALLBACK_READ_MS: u64 = 1_000;
/// Entries read at most per look (a listener that falls behind catches up over a few).
const READ_MAX: u64 = 500;

impl Cursor {
    pub fn due(&self, now: u64) -> bool {
        self.on.load(Ordering::SeqCst)
            && (self.notice.load(Ordering::SeqCst)
                || now >= self.last_read.load(Ordering::SeqCst) + FALLBACK_READ_MS)
    }
}

impl RedisStore {
    fn events_key(&self) -> String {
        keys::events(&self.prefix)
    }

    /// Listening begins at the log's end: events from now on. The registration is
    /// written and announced at once (the writer renews it).
    pub fn set_listening(&self, on: bool) {
        if on && !self.flags.events.on.load(Ordering::SeqCst) {
            let key = keys::listeners(&self.prefix);
            let until = self.clock.now_ms() + LISTENER_TTL_MS;
            // Announced too: every process logs for this one from this notice on (it
            // comes before the notice of any task submitted after it).
            let channel = keys::channel(&self.prefix);
            let _ = self.read(|c| {
                redis::pipe()
                    .cmd("ZADD").arg(&key).arg(until).arg(&self.me).ignore()
                    .cmd("PUBLISH").arg(&channel).arg(format!("l{}", self.me)).ignore()
                    .query::<()>(c)
            });
            let key = self.events_key();
            let last: Vec<(String, Vec<String>)> = self
                .read(|c| redis::cmd("XREVRANGE").arg(&key).arg("+").arg("-").arg("COUNT").arg(1).query(c))
                .unwrap_or_default();
            *self.flags.events.last_id.lock().expect("cursor lock") =
                last.first().map_or_else(|| "0-0".to_string(), |e| e.0.clone());
        }
        self.flags.events.on.store(on, Ordering::SeqCst);
        self.shared.listening.store(on, Ordering::SeqCst);
    }

    pub fn read_events(&mut self) -> Vec<String> {
        self.flags.events.notice.store(false, Ordering::SeqCst);
        self.flags.events.last_read.store(self.clock.now_ms(), Ordering::SeqCst);
        let key = self.events_key();
        let from = format!("({}", self.flags.events.last_id.lock().expect("cursor lock"));
        let entries: Vec<(String, Vec<String>)> = self
            .read(|c| redis::cmd("XRANGE").arg(&key).arg(&from).arg("+").arg("COUNT").arg(READ_MAX).query(c))
            .unwrap_or_default();
        if let Some(last) = entries.last() {
            *self.flags.events.last_id.lock().expect("cursor lock") = last.0.clone();
            if entries.len() as u64 == READ_MAX {
                self.flags.events.notice.store(true, Ordering::SeqCst); // more to read
            }
        }
        let me = &self.me;
        entries
            .into_iter()
            .filter_map(|(_, fields)| {
                let field = |name: &str| {
                    fields.chunks(2).find(|kv| kv[0] == name).and_then(|kv| kv.get(1)).cloned()
                };
                (field("o").as_deref() != Some(me.as_str())).then(|| field("e")).flatten()
            })
            .collect()
    }
}

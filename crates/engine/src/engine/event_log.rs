//! Task events beyond this process. A state change, progress, status or log line is an
//! event for this process's listeners (`Event::State`, drained by the host) and, on a
//! durable store while some other process listens, a document appended to the store's
//! event log, which listening processes read from a cursor (see `DurableStore::
//! append_events` / `read_events`). Documents are JSON arrays:
//! - `["state", id, name, queue, STATE, attempt, durationMs, detail]`: detail is the
//!   result (JSON) of a SUCCESS, the error of a FAILURE or RETRY, else null;
//! - `["progress", id, name, percent, message]`, `["status", id, name, status]`,
//!   `["log", id, name, level, message, time]`.

use std::fmt::Write;

use super::{Engine, Event};
use crate::store::protocol::Op;
use crate::task::{TaskId, TaskState};
use crate::wire::push_json_str;

impl Engine {
    /// Whether another process listens to this store's events (so they are logged).
    fn log_wanted(&self) -> bool {
        self.durable.as_ref().is_some_and(|d| d.store.listeners_elsewhere())
    }

    /// A task held here changed state: an event for listeners here and elsewhere.
    pub(super) fn note_state(&mut self, slot: u32, state: TaskState) {
        if self.state_events {
            self.events.push(Event::State { slot, state });
        }
        if self.log_wanted() {
            let mut doc = String::new();
            self.state_doc(slot, state, &mut doc);
            self.log_event(&doc);
        }
    }

    /// Tasks leave memory before their events are read (a failed run requeued for its
    /// retry, unstarted tasks released at close; on the memory store a drain, clean or
    /// remove right after the change): their state events are rendered now,
    /// while the slots still hold them, so the host never reads a slot that is gone or
    /// that another task has taken.
    pub(super) fn render_state_events(&mut self, slots: &[u32]) {
        if slots.is_empty() {
            return;
        }
        let leaving: rustc_hash::FxHashSet<u32> = slots.iter().copied().collect();
        self.render_state_events_where(|slot| leaving.contains(&slot));
    }

    /// Every unread state event, rendered now (before an eviction outside the host's read).
    pub(super) fn render_all_state_events(&mut self) {
        self.render_state_events_where(|_| true);
    }

    fn render_state_events_where(&mut self, leaving: impl Fn(u32) -> bool) {
        if !self.events.iter().any(|e| matches!(e, Event::State { .. })) {
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        for e in &mut events {
            if let Event::State { slot, state } = *e {
                if leaving(slot) {
                    let mut doc = String::new();
                    self.state_doc(slot, state, &mut doc);
                    *e = Event::StateDoc(doc);
                }
            }
        }
        self.events = events;
    }

    /// The state document of the task in `slot` (see the module docs).
    pub(super) fn state_doc(&self, slot: u32, state: TaskState, out: &mut String) {
        let r = self.store.get(slot).expect("slot exists");
        let def = self.registry.get(r.def);
        let _ = write!(out, "[\"state\",\"{}\",", r.id);
        push_json_str(out, &def.name);
        out.push(',');
        push_json_str(out, &def.queue);
        let _ = write!(out, ",\"{}\",{},", state.as_str(), r.attempt);
        let ran = r.started_at > 0 && matches!(state, TaskState::Success | TaskState::Failure | TaskState::Retry);
        if ran {
            let end = if r.completed_at > 0 { r.completed_at } else { self.now() };
            let _ = write!(out, "{}", end.saturating_sub(r.started_at));
        } else {
            out.push_str("null");
        }
        out.push(',');
        match (state, r.result.as_deref(), r.error()) {
            (TaskState::Success, Some(text), _) => out.push_str(text),
            (TaskState::Failure | TaskState::Retry, _, Some(e)) => {
                out.push_str(&serde_json::to_string(e).expect("errors serialize"))
            }
            _ => out.push_str("null"),
        }
        out.push(']');
    }

    /// PENDING documents of tasks just submitted to a durable store. The caller sends
    /// them right after the insert, so that the writer commits both together.
    pub(super) fn pending_docs(&self, ids: &[TaskId], def: u32, queue: &str) -> Option<String> {
        if !self.log_wanted() {
            return None;
        }
        let name = &self.registry.get(def).name;
        let mut out = String::new();
        for id in ids {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "[\"state\",\"{id}\",");
            push_json_str(&mut out, name);
            out.push(',');
            push_json_str(&mut out, queue);
            out.push_str(",\"PENDING\",0,null,null]");
        }
        Some(out)
    }

    /// A progress, status or log document of a task running here, built only when
    /// someone elsewhere listens.
    pub(super) fn log_task_event(&mut self, build: impl FnOnce(&Self) -> serde_json::Value) {
        if self.log_wanted() {
            let doc = build(self).to_string();
            self.log_event(&doc);
        }
    }

    fn log_event(&mut self, doc: &str) {
        if let Some(d) = &mut self.durable {
            if !d.event_log.is_empty() {
                d.event_log.push(',');
            }
            d.event_log.push_str(doc);
        }
    }

    /// Hands the documents gathered since the last call to the store's writer (once per
    /// dispatch step: one append for the whole batch).
    pub(super) fn flush_event_log(&mut self) {
        let Some(d) = &mut self.durable else { return };
        if d.event_log.is_empty() {
            return;
        }
        let docs = std::mem::take(&mut d.event_log);
        let at = self.clock.now_ms();
        d.store.send(Op::Events { docs, at });
    }

    /// Events other processes logged since the last read, for this process's listeners.
    pub(super) fn read_remote_events(&mut self, now: u64) {
        let Some(d) = &mut self.durable else { return };
        if !d.store.events_due(now) {
            return;
        }
        for docs in d.store.read_events() {
            self.events.push(Event::Remote(docs));
        }
    }
}

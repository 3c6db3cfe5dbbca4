//! The engine over a durable store (SQLite). The store is the truth; this process keeps
//! in memory only the tasks it has claimed, and runs them through the same lines and
//! policies as the memory store. What changes:
//!
//! - a submit goes to the writer thread and is acknowledged (a `Committed` event) once
//!   committed; nothing is kept in memory;
//! - claiming asks the writer for up to the free capacity of each admissible task name
//!   (one standing request at a time); claimed tasks arrive leased to this worker and
//!   join their lines here;
//! - an outcome is written, and the task settles (watchers hear of it) only once that
//!   write is committed; then it leaves memory;
//! - tasks not held here are read from the file; waiting on them polls the file when
//!   another connection has committed.

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;

use super::{CancelOutcome, Engine, Event};
use crate::error::{EngineError, Result};
use crate::options::SubmitOptions;
use crate::policy::breaker::OnOpen;
use crate::policy::BreakerState;
use crate::store::protocol::{Adopted, DurableStore, NewTask, Op, Reply, StoredCancel, Want};
use crate::store::StoreSettings;
use crate::store::Record;
use crate::task::{new_task_id, parse_task_id, TaskError, TaskId, TaskState};

/// How long a claimed task stays leased to a worker that stopped renewing (died).
pub const DEFAULT_LEASE_MS: u64 = 30_000;
/// Shortest gap between two polls of the file for tasks awaited elsewhere.
const WATCH_POLL_MS: u64 = 5;
/// Largest submit committed on the caller's thread (see `SqliteStore::insert_now`).
const DIRECT_INSERT_MAX: usize = 64;
/// Up to this many awaited tasks held elsewhere, a poll looks at each of them; beyond,
/// at those the store's finish log names (see `DurableStore::finished_since`).
const FEW_WATCHES: usize = 64;
/// With many awaited tasks: how often to look at all of them anyway.
const FULL_POLL_MS: u64 = 1_000;
/// Longest delay before a running task shows STARTED in the file.
const STARTED_WRITE_MS: u64 = 5;

pub(crate) struct Durable {
    pub(super) store: Box<dyn DurableStore>,
    by_id: FxHashMap<TaskId, u32>,
    /// Awaited tasks not held here: polled in the file.
    remote_watches: FxHashSet<TaskId>,
    /// A submit may be committed on the host's thread (once per step).
    direct_allowed: bool,
    /// A claim request is standing at the writer, for these definitions.
    adopting: bool,
    asked: Vec<u32>,
    /// Per definition: claimed here, waiting in a line here (not started).
    queued: Vec<u32>,
    queued_total: usize,
    next_ticket: u64,
    last_ticket: Option<u64>,
    tickets_out: usize,
    committing: usize,
    /// Per slot: the task's row (`seq`) in the file, for cheap updates.
    seqs: Vec<i64>,
    /// Tasks started in this step, and those started in earlier steps whose STARTED is
    /// not written yet (slot, row). See `send_started`.
    started_now: Vec<(u32, i64)>,
    started_before: Vec<(u32, i64)>,
    /// Settled slots to drop from memory once their events are out.
    leaving: Vec<u32>,
    last_poll: u64,
    last_full_poll: u64,
    /// Awaited tasks this process submitted, not looked up yet (see `watch_task`).
    unverified: Vec<TaskId>,
    /// Event documents for the store's log, not yet handed to the writer (see
    /// `event_log.rs`).
    pub(super) event_log: String,
}

impl Durable {
    /// The engine's durable store, if `cfg.store` names one (see `store::open`).
    pub(super) fn open(e: &Engine) -> Result<Option<Durable>> {
        let settings = StoreSettings {
            worker_id: e.worker_id.clone(),
            worker: e.cfg.worker,
            lease_ms: e.cfg.lease_ms,
            poll_ms: e.cfg.poll_ms,
            claim_hold_ms: e.cfg.claim_hold_ms,
            keep_count: e.cfg.keep_count,
            keep_age_ms: e.cfg.keep_age_ms,
            namespace: e.cfg.namespace.clone(),
            queue_offline_submits: e.cfg.queue_offline_submits,
        };
        Ok(crate::store::open(e.cfg.store.clone(), settings, e.clock.clone())?.map(Durable::over))
    }

    fn over(store: Box<dyn DurableStore>) -> Durable {
        Durable {
            store,
            by_id: FxHashMap::default(),
            remote_watches: FxHashSet::default(),
            direct_allowed: true,
            adopting: false,
            asked: Vec::new(),
            queued: Vec::new(),
            queued_total: 0,
            next_ticket: 1,
            last_ticket: None,
            tickets_out: 0,
            committing: 0,
            leaving: Vec::new(),
            seqs: Vec::new(),
            started_now: Vec::new(),
            started_before: Vec::new(),
            last_poll: 0,
            last_full_poll: 0,
            unverified: Vec::new(),
            event_log: String::new(),
        }
    }

    pub(super) fn slot_of(&self, id: &TaskId) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// A claimed task starts now (the file says RECEIVED until `send_started`).
    pub(super) fn starting(&mut self, slot: u32) {
        self.started_now.push((slot, self.seqs[slot as usize]));
    }
}

impl Engine {
    /// Writes STARTED for the tasks started in the previous step that still run. Most
    /// short tasks have finished by then, and their outcome (which carries the start
    /// time) is then their only write: one row update per task instead of two. A task
    /// shows STARTED in the file a step late — a few ms, see `durable_next_due`.
    pub(super) fn send_started(&mut self, now: u64) {
        let Some(d) = &mut self.durable else { return };
        let store = &self.store;
        let mut seqs = Vec::new();
        let mut ids = Vec::new();
        for (slot, seq) in d.started_before.drain(..) {
            if let Some(r) = store.get(slot) {
                if r.state == TaskState::Started && d.seqs[slot as usize] == seq {
                    seqs.push(seq);
                    ids.push(r.id);
                }
            }
        }
        if !seqs.is_empty() {
            d.store.send(Op::Started { seqs, ids, at: now });
        }
        std::mem::swap(&mut d.started_before, &mut d.started_now);
    }
}

impl Durable {
    /// A task claimed here left its line (it starts, or is revoked or refused).
    pub(super) fn started_one(&mut self, def: u32) {
        if let Some(q) = self.queued.get_mut(def as usize) {
            if *q > 0 {
                *q -= 1;
                self.queued_total -= 1;
            }
        }
    }
}

fn error_json(e: Option<&TaskError>) -> Option<String> {
    e.map(|e| serde_json::to_string(e).expect("errors serialize"))
}

impl Engine {
    /// Sets what the writer thread calls when it has news for the host (who then calls
    /// `claim_at`, which takes them in). Only durable stores call it.
    pub fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        if let Some(d) = &self.durable {
            d.store.set_waker(waker);
        }
    }

    /// The ticket of the last submit: its `Committed` event says when it is durable.
    /// None with the memory store, where a submit is done when it returns.
    pub fn take_ticket(&mut self) -> Option<u64> {
        self.durable.as_mut().and_then(|d| d.last_ticket.take())
    }

    pub(super) fn durable_send(&self, op: impl FnOnce() -> Op) {
        if let Some(d) = &self.durable {
            d.store.send(op());
        }
    }

    pub(super) fn durable_registered(&mut self) {
        // Task names with their own retention; the file trims them apart from the rest.
        let own: Vec<(String, usize, Option<u64>)> = (0..self.registry.len() as u32)
            .filter(|d| self.def_group[*d as usize] != 0)
            .map(|d| {
                let (count, age) = self.retention_of(d);
                (self.registry.get(d).name.clone(), count, age)
            })
            .collect();
        if let Some(d) = &self.durable {
            d.store.send(Op::Retention(own));
        }
        let names: Vec<crate::store::protocol::Line> = self
            .worked_defs
            .iter()
            .map(|d| {
                let def = self.registry.get(*d);
                (def.name.clone(), def.queue.clone())
            })
            .collect();
        let defs = self.registry.len();
        if let Some(d) = &mut self.durable {
            d.queued.resize(defs, 0);
            d.store.set_names(names);
        }
    }

    pub(super) fn durable_submit<'a>(
        &mut self,
        def: u32,
        payloads: impl IntoIterator<Item = &'a str>,
        opts: &SubmitOptions,
    ) -> Result<Vec<TaskId>> {
        let now = self.now();
        let queue = self.submit_queue(def, opts)?;
        let d = self.registry.get(def);
        let priority = opts.priority.unwrap_or(d.priority);
        let max_attempts = self.registry.retry_policy(def).max_retries + 1;
        // Shared by the batch: one allocation, not one per task.
        let (name, queue): (std::sync::Arc<str>, std::sync::Arc<str>) =
            (d.name.as_str().into(), queue.into());
        let tasks: Vec<NewTask> = payloads
            .into_iter()
            .map(|p| NewTask {
                id: new_task_id(),
                name: name.clone(),
                queue: queue.clone(),
                priority,
                max_attempts,
                payload: p.into(),
                key: opts.key.clone(),
                created_at: now,
                run_at: opts.run_at_ms.unwrap_or(0),
                trace: opts.trace.clone(),
            })
            .collect();
        if opts.key.is_some() && tasks.len() != 1 {
            return Err(EngineError::invalid(
                "an idempotency `key` applies to a single task",
            ));
        }
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
        // Logged for listeners elsewhere right behind the insert: committed with it.
        let pending = self.pending_docs(&ids, def, &queue).map(|docs| Op::Events { docs, at: now });
        if self.state_events {
            for id in &ids {
                self.events.push(Event::StateOf {
                    id: *id,
                    def,
                    state: TaskState::Pending,
                });
            }
        }
        // A task this process runs itself is better inserted by the writer, which claims
        // it in the same transaction.
        let runs_here = self.cfg.worker && self.worked_defs.contains(&def);
        let dur = self.durable.as_mut().expect("durable");
        let ticket = dur.next_ticket;
        dur.next_ticket += 1;
        dur.last_ticket = Some(ticket);
        // With nothing queued at the writer (so FIFO across submits holds), a small
        // submit of a task run elsewhere is committed right here; the host learns it
        // from the same event. Once per step: submits issued together go to the writer
        // and share one commit.
        if !runs_here
            && dur.direct_allowed
            && dur.tickets_out == 0
            && tasks.len() <= DIRECT_INSERT_MAX
        {
            dur.direct_allowed = false;
            match dur.store.insert_now(&tasks, now) {
                Ok(existing) => {
                    if let Some(op) = pending {
                        dur.store.send(op);
                    }
                    self.events.push(Event::Committed {
                        ticket,
                        outcome: Ok(existing),
                    });
                    return Ok(ids);
                }
                // Failed here (disk full, Redis unreachable): the writer takes it over. It
                // commits it or rejects it, reports the fault once per episode and backs
                // off (with Redis and offline submits queued, it keeps it until it is back).
                Err(_) => {}
            }
            let dur = self.durable.as_mut().expect("durable");
            dur.tickets_out += 1;
            dur.store.send(Op::Insert { ticket, tasks });
            if let Some(op) = pending {
                dur.store.send(op);
            }
            return Ok(ids);
        }
        dur.tickets_out += 1;
        dur.store.send(Op::Insert { ticket, tasks });
        if let Some(op) = pending {
            dur.store.send(op);
        }
        if runs_here && opts.run_at_ms.is_none_or(|t| t <= now) {
            self.release_outranked_claims(priority);
        }
        Ok(ids)
    }

    /// A ready task submitted here outranks tasks this process claimed ahead (held here,
    /// not started): they go back to their line, so that the next claim takes the higher
    /// one first and a ready task of higher priority runs before any of lower priority,
    /// as on the memory store. (Without this, the first task submitted while every slot
    /// was busy was claimed ahead and ran before higher priorities submitted after it.)
    fn release_outranked_claims(&mut self, priority: i32) {
        let Some(d) = &self.durable else { return };
        if d.queued_total == 0 {
            return;
        }
        let outranked: Vec<(u32, TaskId)> = d
            .by_id
            .iter()
            .filter_map(|(id, slot)| {
                let r = self.store.get(*slot)?;
                let waiting = matches!(r.state, TaskState::Pending | TaskState::Retry);
                (waiting && r.priority < priority && !r.cancel_requested).then_some((*slot, *id))
            })
            .collect();
        if outranked.is_empty() {
            return;
        }
        let slots: Vec<u32> = outranked.iter().map(|o| o.0).collect();
        self.render_state_events(&slots);
        let d = self.durable.as_mut().expect("durable");
        let mut ids = Vec::with_capacity(outranked.len());
        for (slot, id) in outranked {
            if let Some(r) = self.store.remove(slot) {
                d.queued[r.def as usize] -= 1;
                d.queued_total -= 1;
                // Awaited here: its outcome now comes from whoever claims it.
                if r.watched {
                    d.remote_watches.insert(r.id);
                    d.store.set_watching(true);
                }
            }
            d.by_id.remove(&id);
            ids.push(id);
        }
        d.store.send(Op::Release { ids });
    }

    /// Takes in what the writer reported: commits, claimed tasks, settled outcomes,
    /// cancel requests; then polls the file for awaited tasks held elsewhere.
    pub(super) fn durable_intake(&mut self, now: u64) {
        let Some(d) = &mut self.durable else { return };
        d.direct_allowed = true;
        for reply in d.store.take_replies() {
            match reply {
                Reply::Committed {
                    ticket,
                    existing_id,
                } => self.ticket_done(ticket, Ok(existing_id)),
                Reply::Rejected { ticket, error } => self.ticket_done(ticket, Err(error)),
                Reply::Adopted(rows) => {
                    self.durable.as_mut().expect("durable").adopting = false;
                    let mut revoke = Vec::new();
                    for row in rows {
                        if row.cancel_requested {
                            revoke.push(row.id);
                        }
                        self.take_in(row, now);
                    }
                    // Cancelled while the worker that held them died.
                    for id in revoke {
                        self.cancel_from_elsewhere(id);
                    }
                }
                Reply::Settled(slots) => {
                    for slot in slots {
                        let d = self.durable.as_mut().expect("durable");
                        d.committing -= 1;
                        d.leaving.push(slot);
                        if let Some(r) = self.store.get_mut(slot) {
                            r.committing = false;
                        }
                        self.settle(slot, now);
                    }
                }
                Reply::Requeued(slots) => {
                    self.render_state_events(&slots);
                    for slot in slots {
                        if let Some(r) = self.store.remove(slot) {
                            let d = self.durable.as_mut().expect("durable");
                            d.by_id.remove(&r.id);
                            if r.watched {
                                d.remote_watches.insert(r.id);
                                d.store.set_watching(true);
                            }
                        }
                    }
                }
                Reply::CancelRequested(ids) => {
                    for id in ids {
                        self.cancel_from_elsewhere(id);
                    }
                }
                Reply::Fault(message) => self.events.push(Event::StoreFault(message)),
            }
        }
        self.read_remote_events(now);
        self.poll_remote_watches(now);
    }

    /// A cancel asked in another process reached a task this process holds. A running
    /// task has its signal aborted; one waiting here is revoked without running — but a
    /// workflow coordinator starts with its signal aborted, so that it cancels its
    /// members (which it finds by their keys).
    fn cancel_from_elsewhere(&mut self, id: TaskId) {
        if let Some(slot) = self.durable.as_ref().and_then(|d| d.slot_of(&id)) {
            let r = self.store.get_mut(slot).expect("slot exists");
            let waiting = matches!(r.state, TaskState::Pending | TaskState::Retry);
            if waiting && self.registry.get(r.def).name == super::WORKFLOW_TASK {
                r.cancel_requested = true; // aborted as it starts (see `claim_at`)
                return;
            }
        }
        if let Ok(CancelOutcome::AbortRunning(slot)) = self.cancel(&id.to_string()) {
            self.events.push(Event::Abort { slot });
        }
    }

    fn ticket_done(&mut self, ticket: u64, outcome: std::result::Result<Option<String>, String>) {
        self.durable.as_mut().expect("durable").tickets_out -= 1;
        self.events.push(Event::Committed { ticket, outcome });
    }

    /// A task claimed from the file joins its line here.
    fn take_in(&mut self, row: Adopted, now: u64) {
        let d = self.durable.as_mut().expect("durable");
        let watched = d.remote_watches.remove(&row.id);
        let error = row
            .error
            .as_deref()
            .and_then(|e| serde_json::from_str::<TaskError>(e).ok());
        let mut record = Record {
            id: row.id,
            def: row.def,
            state: if row.attempt > 1 {
                TaskState::Retry
            } else {
                TaskState::Pending
            },
            priority: row.priority,
            attempt: row.attempt.saturating_sub(1),
            seq: 0,
            run_at: row.run_at.filter(|t| *t <= now).unwrap_or(0),
            created_at: row.created_at,
            started_at: 0,
            completed_at: 0,
            payload: row.payload.into(),
            result: None,
            watched,
            cancel_requested: false,
            trial: false,
            committing: false,
            extra: None,
        };
        if error.is_some() || row.key.is_some() || row.trace.is_some() {
            let x = record.extra_mut();
            x.error = error;
            x.key = row.key;
            x.trace = row.trace;
        }
        let slot = self.store.insert_claimed(record, now);
        let d = self.durable.as_mut().expect("durable");
        if d.seqs.len() <= slot as usize {
            d.seqs.resize(slot as usize + 1, 0);
        }
        d.seqs[slot as usize] = row.seq;
        d.by_id.insert(row.id, slot);
        d.queued[row.def as usize] += 1;
        d.queued_total += 1;
    }

    /// Asks the writer for tasks to fill the free capacity. A standing request is
    /// replaced only when the set of task names that may run changes (a name reached its
    /// `maxParallel`, its breaker opened…): replacing it for every change of capacity
    /// would claim more than this process can start.
    pub(super) fn durable_request_claims(&mut self, now: u64, free: usize) {
        let Some(d) = &self.durable else { return };
        if !self.cfg.worker || self.closed {
            return;
        }
        // Claim up to one batch ahead, so the writer claims the next batch while this
        // one runs: the pipeline never waits on a round trip to the file.
        let ahead = self.cfg.concurrency as usize;
        let room_now = free.saturating_sub(d.queued_total) as u32;
        let free = (free + ahead).saturating_sub(d.queued_total);
        if free == 0 && !d.adopting {
            return;
        }
        // (definition, most to claim); names are looked up only if a request goes out.
        let mut wants: Vec<(u32, u32)> = Vec::new();
        // With no room left, a standing request is withdrawn (wants stays empty).
        for i in 0..if free == 0 { 0 } else { self.worked_defs.len() } {
            let def = self.worked_defs[i];
            if !self.admits(def, now) && !self.breaker_refuses(def) {
                continue;
            }
            // A breaker that refuses (open, `onOpen: 'fail'`) fails claimed tasks at once.
            let mut max = free as u32;
            if let Some(mp) = self.registry.get(def).max_parallel {
                // No claiming ahead: a claimed task holds one of the name's slots in every
                // process, and should only hold it while it can start here.
                let d = self.durable.as_ref().expect("durable");
                max = max
                    .min(room_now)
                    .min(mp.saturating_sub(self.running[def as usize] + d.queued[def as usize]));
            }
            if max > 0 {
                wants.push((def, max));
            }
        }
        let d = self.durable.as_ref().expect("durable");
        let same = d.adopting
            && wants.len() == d.asked.len()
            && wants.iter().zip(&d.asked).all(|(w, a)| w.0 == *a);
        if same || (wants.is_empty() && !d.adopting) {
            return;
        }
        let request: Vec<Want> = wants
            .iter()
            .map(|&(def, max)| Want {
                def,
                name: self.registry.get(def).name.clone(),
                queue: self.registry.get(def).queue.clone(),
                max,
                max_parallel: self.registry.get(def).max_parallel,
                rate: self.registry.get(def).rate_limit,
            })
            .collect();
        // An empty list withdraws the standing request; the writer answers it.
        let d = self.durable.as_mut().expect("durable");
        d.adopting = true;
        d.asked = wants.iter().map(|w| w.0).collect();
        d.store.send(Op::Adopt {
            wants: request,
            limit: free as u32,
        });
    }

    fn breaker_refuses(&self, def: u32) -> bool {
        self.breakers[def as usize]
            .as_ref()
            .is_some_and(|b| b.state() == BreakerState::Open && b.config().on_open == OnOpen::Fail)
    }

    pub(super) fn durable_retry(&mut self, slot: u32, due_at: u64) {
        let r = self.store.get(slot).expect("slot exists");
        let seq = self.durable.as_ref().expect("durable").seqs[slot as usize];
        let op = Op::Retry {
            slot,
            seq,
            id: r.id,
            error: error_json(r.error()).unwrap_or_else(|| "null".into()),
            due_at,
        };
        self.durable.as_ref().expect("durable").store.send(op);
    }

    pub(super) fn durable_finish(&mut self, slot: u32) {
        let seq = self.durable.as_ref().expect("durable").seqs[slot as usize];
        let r = self.store.get_mut(slot).expect("slot exists");
        r.committing = true;
        let op = Op::Finish {
            slot,
            seq,
            id: r.id,
            state: r.state,
            attempt: r.attempt,
            result: r.result.as_ref().map(|t| t.to_string()),
            error: error_json(r.error()),
            started_at: r.started_at,
            at: r.completed_at,
        };
        let d = self.durable.as_mut().expect("durable");
        d.committing += 1;
        d.store.send(op);
    }

    /// Drops settled tasks from memory once their events are out (the file has them).
    /// Every awaited task held elsewhere is looked up with the next poll (after this
    /// process deleted tasks itself: its own writes do not show as a change to its reader).
    pub(super) fn recheck_remote_watches(&mut self) {
        if let Some(d) = &mut self.durable {
            let all: Vec<TaskId> = d.remote_watches.iter().copied().collect();
            d.unverified.extend(all);
        }
    }

    pub(super) fn durable_evict(&mut self, now: u64) {
        // Outside the host's read (remove, retry, info of a moment ago) events may be unread.
        self.render_all_state_events();
        let d = self.durable.as_mut().expect("durable");
        for slot in std::mem::take(&mut d.leaving) {
            if let Some(r) = self.store.get(slot) {
                d.by_id.remove(&r.id);
            }
        }
        let drop_all = vec![(0, None); self.retention.len()];
        self.store.evict(now, &drop_all);
    }

    pub(super) fn durable_cancel(&mut self, id: &str, now: u64) -> Result<CancelOutcome> {
        let parsed = parse_task_id(id)?;
        let d = self
            .durable
            .as_mut()
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        match d.store.cancel(&parsed, now, &self.worker_id)? {
            None => Err(EngineError::NotFound(id.to_string())),
            Some(StoredCancel::Revoked) => {
                // Our own write does not show as a change to our reader: settle watchers here.
                let watched = d.remote_watches.remove(&parsed);
                let info = self.durable_info_value(&parsed)?;
                if let Some(def) = info
                    .as_ref()
                    .and_then(|i| i["name"].as_str())
                    .and_then(|name| self.registry.index_of(name).ok())
                {
                    self.metrics.ended_unrun(def, crate::metrics::RunEnd::Cancelled);
                }
                if let (true, Some(info)) = (watched, info) {
                    self.events.push(Event::SettledInfo(info.to_string()));
                }
                Ok(CancelOutcome::Revoked)
            }
            Some(StoredCancel::Requested) => Ok(CancelOutcome::Requested),
            Some(StoredCancel::ClaimedHere) => {
                // The writer has claimed it for this process and is handing it over:
                // take it in (a moment at most), then cancel it here.
                for _ in 0..1_000 {
                    self.durable_intake(now);
                    if self.local_slot(id)?.is_some() {
                        return self.cancel(id);
                    }
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
                Ok(CancelOutcome::Requested)
            }
            Some(StoredCancel::AlreadyFinal(s)) => Ok(CancelOutcome::AlreadyFinal(s)),
        }
    }

    pub(super) fn durable_watch(&mut self, id: &str) -> Result<Option<String>> {
        let parsed = parse_task_id(id)?;
        // Before the read: a finish announced between the read and the watch still wakes.
        if let Some(d) = &self.durable {
            d.store.set_watching(true);
        }
        // The state first (one small read): the whole info only for a finished task.
        let d = self.durable.as_ref().expect("durable");
        let Some(state) = d.store.state(&parsed)? else {
            return Err(EngineError::NotFound(id.to_string()));
        };
        if state.is_final() {
            if let Some(info) = self.durable_info_value(&parsed)? {
                return Ok(Some(info.to_string()));
            }
        }
        self.durable
            .as_mut()
            .expect("durable")
            .remote_watches
            .insert(parsed);
        Ok(None)
    }

    /// `durable_watch` for a task this process submitted (so it exists): no read now;
    /// the next poll looks it up together with the others (see `poll_remote_watches`).
    pub(super) fn durable_watch_submitted(&mut self, id: &str) -> Result<Option<String>> {
        let parsed = parse_task_id(id)?;
        let Some(d) = &mut self.durable else {
            return Err(EngineError::NotFound(id.to_string()));
        };
        // Before the lookup: a finish announced after it still wakes.
        d.store.set_watching(true);
        if d.remote_watches.insert(parsed) {
            d.unverified.push(parsed);
        }
        Ok(None)
    }

    pub(super) fn durable_state(&self, id: &str) -> Result<TaskState> {
        let parsed = parse_task_id(id)?;
        let d = self
            .durable
            .as_ref()
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        d.store
            .state(&parsed)?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    pub(super) fn durable_info(&self, id: &str) -> Result<String> {
        let parsed = parse_task_id(id)?;
        self.durable_info_value(&parsed)?
            .map(|v| v.to_string())
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// A stored task's info, with the breaker of its task if registered here.
    fn durable_info_value(&self, id: &TaskId) -> Result<Option<Value>> {
        let Some(d) = &self.durable else {
            return Ok(None);
        };
        let Some(mut info) = d.store.info(id)? else {
            return Ok(None);
        };
        info["breaker"] = Value::Null;
        let def = info["name"]
            .as_str()
            .and_then(|n| self.registry.index_of(n).ok());
        if let Some(def) = def {
            if let Some(b) = &self.breakers[def as usize] {
                let s = b.snapshot();
                info["breaker"] = serde_json::json!({ "state": s.state, "failures": s.failures });
            }
            // Why a ready task waits, if this process's policies hold it back.
            let state = TaskState::parse(info["state"].as_str().unwrap_or(""))
                .unwrap_or(TaskState::Pending);
            let run_at = info["runAt"].as_u64().unwrap_or(0);
            let now = self.now();
            let shared_wait = d
                .store
                .shared_rate_wait(&self.registry.get(def).name)
                .filter(|at| *at > now && run_at <= now)
                .filter(|_| matches!(state, TaskState::Pending | TaskState::Retry));
            if let Some(reason) = self.waiting_reason_of(def, state, run_at) {
                info["status"] = Value::String(reason);
            } else if let Some(at) = shared_wait {
                info["status"] = Value::String(format!(
                    "waiting: rate limit of task '{}' (next start in {} ms)",
                    self.registry.get(def).name,
                    at - now
                ));
            }
        }
        Ok(Some(info))
    }

    fn poll_remote_watches(&mut self, now: u64) {
        let Some(d) = &mut self.durable else { return };
        if d.remote_watches.is_empty() {
            d.unverified.clear();
            return;
        }
        // Newly awaited tasks this process submitted: looked up now, all in one read.
        let mut ids: Vec<TaskId> = std::mem::take(&mut d.unverified);
        ids.retain(|id| d.remote_watches.contains(id));
        // A store that announces finished tasks (Redis) is looked at on each notice; a
        // file is read at most every WATCH_POLL_MS while few tasks are awaited (a result
        // soon after it is stored), and every poll interval while many are (a batch being
        // awaited: reading the finish log every 5 ms took half the throughput).
        let many = d.remote_watches.len() > FEW_WATCHES;
        let gap = if many { self.cfg.poll_ms.max(WATCH_POLL_MS) } else { WATCH_POLL_MS };
        if (!d.store.notifies() && now < d.last_poll + gap) || !d.store.changed() {
            self.settle_remote(ids);
            return;
        }
        d.last_poll = now;
        // Awaiting many tasks, look only at those the store's finish log names (and at
        // all of them once a second, should the log have missed one); else at all.
        let full = !many || now >= d.last_full_poll + FULL_POLL_MS;
        let logged = if full { None } else { d.store.finished_since() };
        match logged {
            Some(fin) => ids.extend(fin.into_iter().filter(|id| d.remote_watches.contains(id))),
            None => {
                if many {
                    d.last_full_poll = now;
                    // Skip what the log holds up to now: the full look covers it.
                    d.store.finished_since();
                }
                ids = d.remote_watches.iter().copied().collect();
            }
        }
        self.settle_remote(ids);
    }

    /// Of the awaited tasks `ids`, settles those that have finished.
    fn settle_remote(&mut self, ids: Vec<TaskId>) {
        let Some(d) = &mut self.durable else { return };
        if ids.is_empty() {
            return;
        }
        let Ok(done) = d.store.finished_among(&ids) else {
            // Looked up again with the next poll.
            d.unverified.extend(ids);
            return;
        };
        for mut info in done {
            if let Some(id) = info["id"]
                .as_str()
                .and_then(|s| uuid::Uuid::try_parse(s).ok())
            {
                d.remote_watches.remove(&id);
            }
            if d.remote_watches.is_empty() {
                d.store.set_watching(false);
            }
            info["breaker"] = Value::Null;
            self.events.push(Event::SettledInfo(info.to_string()));
        }
    }

    /// When the host should look again: the next delayed task in the file, or a poll
    /// while it awaits tasks held elsewhere. (Commits and claimed tasks need no timer:
    /// the writer wakes the host.)
    pub(super) fn durable_next_due(&mut self, now: u64) -> Option<u64> {
        let d = self.durable.as_ref()?;
        let mut due = None;
        if self.cfg.worker && !self.closed {
            due = d.store.next_due().map(|t| t.max(now + 1));
        }
        if !d.remote_watches.is_empty() {
            let tick = now + self.cfg.poll_ms.max(WATCH_POLL_MS);
            due = Some(due.map_or(tick, |t: u64| t.min(tick)));
        }
        if !d.started_before.is_empty() {
            let tick = now + STARTED_WRITE_MS;
            due = Some(due.map_or(tick, |t: u64| t.min(tick)));
        }
        due
    }

    pub(super) fn durable_unfinished(&self) -> usize {
        let Some(d) = &self.durable else { return 0 };
        let stored = self.cfg.worker && !self.closed && d.store.has_work();
        d.tickets_out + d.committing + d.remote_watches.len() + usize::from(stored)
    }

    /// Closing: claimed tasks that have not started go back to their line, the claim
    /// request is withdrawn, and the writer commits what is left and ends.
    pub(super) fn durable_close(&mut self) {
        let Some(d) = &mut self.durable else { return };
        let mut ids = Vec::new();
        let waiting: Vec<(u32, TaskId)> = d
            .by_id
            .iter()
            .filter_map(|(id, slot)| {
                let r = self.store.get(*slot)?;
                matches!(r.state, TaskState::Pending | TaskState::Retry).then_some((*slot, *id))
            })
            .collect();
        let slots: Vec<u32> = waiting.iter().map(|w| w.0).collect();
        self.render_state_events(&slots);
        let d = self.durable.as_mut().expect("durable");
        for (slot, id) in waiting {
            self.store.remove(slot);
            d.by_id.remove(&id);
            ids.push(id);
        }
        d.queued.iter_mut().for_each(|q| *q = 0);
        d.queued_total = 0;
        if !ids.is_empty() {
            d.store.send(Op::Release { ids });
        }
        d.store.stop();
        let now = self.now();
        self.durable_intake(now);
    }

    /// Asks the writer to say when everything sent to it so far is committed, without
    /// waiting: the `Committed` event of the returned ticket says so (None: a memory
    /// store, or closed, where nothing is in flight). Reads of the file that must see
    /// this process's own outcomes (`counts()` after a task read as SUCCESS) wait for it.
    pub fn request_flush(&mut self) -> Option<u64> {
        let d = self.durable.as_mut()?;
        if !d.store.is_running() {
            return None;
        }
        let ticket = d.next_ticket;
        d.next_ticket += 1;
        d.tickets_out += 1;
        d.store.send(Op::Flush { ticket });
        Some(ticket)
    }

    /// Blocks until everything sent to the writer so far is committed and taken in
    /// (for tests and tools; the host never blocks on the writer otherwise).
    pub fn flush(&mut self) {
        // None when closed: the writer committed everything when it stopped.
        let Some(ticket) = self.request_flush() else { return };
        loop {
            let now = self.now();
            self.durable_intake(now);
            let done = self
                .events
                .iter()
                .any(|e| matches!(e, Event::Committed { ticket: t, .. } if *t == ticket));
            if done {
                self.events
                    .retain(|e| !matches!(e, Event::Committed { ticket: t, .. } if *t == ticket));
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

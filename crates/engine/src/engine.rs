//! The engine: the registry, a store and the decisions between them — what runs next
//! (queues, priority, FIFO, `maxParallel`), what a failure means (retry or fail), what a
//! cancel does, and which events an observer sees.
//!
//! The host (the Node binding) drives it in batches: `submit` many tasks in one call,
//! `claim` up to its free capacity in one call, report many `complete`s in one call.

use std::fmt::Write;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, SystemClock};
use crate::error::{EngineError, Result};
use crate::options::{parse_json, positive_whole_number, whole_number, SubmitOptions};
use crate::policy::{RetryPolicy, RetrySpec};
use crate::registry::{validate_name, Registry, TaskDef};
use crate::store::{LogEntry, MemoryStore, Record};
use crate::task::{new_task_id, parse_task_id, TaskError, TaskId, TaskState};
use crate::wire::push_json_str;

/// How a handler run ended, as reported by the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// JSON text of the returned value.
    Success(compact_str::CompactString),
    Failure(TaskError),
}

/// What `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The task had not started: it is REVOKED now and will never run.
    Revoked,
    /// The task is running here: the host must abort its signal; the task becomes
    /// REVOKED when its handler returns.
    AbortRunning(u32),
    /// The task had already finished in this state.
    AlreadyFinal(TaskState),
}

/// Something an observer may want to know, collected until the host takes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A watched task reached a final state.
    Settled { slot: u32 },
    /// Any state change, when state events are switched on.
    State { slot: u32, state: TaskState },
}

/// Retention of finished tasks.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeepResultsSpec {
    pub count: Option<f64>,
    pub age_ms: Option<f64>,
}

/// The executor options the engine decides on (as JSON from the host).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EngineConfigSpec {
    pub store: Option<String>,
    pub concurrency: Option<f64>,
    pub queues: Option<Vec<String>>,
    pub worker: Option<bool>,
    pub retry: Option<RetrySpec>,
    pub timeout_ms: Option<f64>,
    pub keep_results: Option<KeepResultsSpec>,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub concurrency: u32,
    /// Queues this executor works; `None` = every queue that has a registered task.
    pub queues: Option<Vec<String>>,
    pub worker: bool,
    pub retry: RetryPolicy,
    pub timeout_ms: Option<u64>,
    pub keep_count: usize,
    pub keep_age_ms: Option<u64>,
}

pub const DEFAULT_CONCURRENCY: u32 = 64;
pub const DEFAULT_KEEP_RESULTS: usize = 100_000;
/// Most log lines kept per task; older lines are dropped first.
pub const MAX_LOGS_PER_TASK: usize = 1_000;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: DEFAULT_CONCURRENCY,
            queues: None,
            worker: true,
            retry: RetryPolicy::default(),
            timeout_ms: None,
            keep_count: DEFAULT_KEEP_RESULTS,
            keep_age_ms: None,
        }
    }
}

impl EngineConfig {
    pub fn from_json(json: &str) -> Result<EngineConfig> {
        let spec: EngineConfigSpec =
            if json.is_empty() { EngineConfigSpec::default() } else { parse_json(json, "executor options")? };
        let mut cfg = EngineConfig::default();
        if let Some(store) = &spec.store {
            if store != "memory" {
                return Err(EngineError::invalid(format!(
                    "unsupported store '{store}': this build provides the 'memory' store only \
                     ('sqlite:<path>' and 'redis://…' are not available yet)"
                )));
            }
        }
        if let Some(c) = spec.concurrency {
            let c = positive_whole_number("concurrency", c)?;
            cfg.concurrency =
                u32::try_from(c).map_err(|_| EngineError::invalid("`concurrency` is too large"))?;
        }
        if let Some(qs) = spec.queues {
            if qs.is_empty() {
                return Err(EngineError::invalid(
                    "`queues` must name at least one queue (use `worker: false` for a producer-only executor)",
                ));
            }
            for q in &qs {
                validate_name("queue", q)?;
            }
            cfg.queues = Some(qs);
        }
        cfg.worker = spec.worker.unwrap_or(true);
        if let Some(r) = spec.retry {
            cfg.retry = r.overlay(&cfg.retry, "retry")?;
        }
        cfg.timeout_ms = spec.timeout_ms.map(|t| positive_whole_number("timeoutMs", t)).transpose()?;
        if let Some(k) = spec.keep_results {
            if let Some(c) = k.count {
                cfg.keep_count = whole_number("keepResults.count", c)? as usize;
            }
            cfg.keep_age_ms = k.age_ms.map(|a| whole_number("keepResults.ageMs", a)).transpose()?;
        }
        Ok(cfg)
    }
}

/// What `info()` shows of a task.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskInfoView<'a> {
    id: String,
    name: &'a str,
    queue: &'a str,
    state: TaskState,
    payload: &'a serde_json::value::RawValue,
    result: Option<&'a serde_json::value::RawValue>,
    error: Option<&'a TaskError>,
    attempt: u32,
    retries: u32,
    priority: i32,
    progress: Option<f64>,
    progress_message: Option<&'a str>,
    status: Option<&'a str>,
    logs: &'a [LogEntry],
    key: Option<&'a str>,
    created_at: u64,
    run_at: Option<u64>,
    started_at: Option<u64>,
    completed_at: Option<u64>,
    worker_id: Option<&'a str>,
}

fn raw(json: &str) -> &serde_json::value::RawValue {
    // Stored payloads and results are JSON texts written by JSON.stringify or serde.
    serde_json::from_str(json).unwrap_or_else(|_| serde_json::from_str("null").unwrap())
}

pub struct Engine {
    cfg: EngineConfig,
    registry: Registry,
    store: MemoryStore,
    clock: Arc<dyn Clock>,
    rng: SmallRng,
    /// Queue names by number; a record stores the number.
    queue_names: Vec<String>,
    queue_numbers: FxHashMap<String, u32>,
    /// The queue numbers this executor claims from.
    worked: Vec<u32>,
    /// Per definition: tasks of it running now, for `maxParallel`.
    running: Vec<u32>,
    running_total: usize,
    events: Vec<Event>,
    state_events: bool,
    worker_id: String,
    closed: bool,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        Self::with_clock(cfg, Arc::new(SystemClock))
    }

    pub fn with_clock(cfg: EngineConfig, clock: Arc<dyn Clock>) -> Engine {
        let mut e = Engine {
            cfg,
            registry: Registry::default(),
            store: MemoryStore::new(),
            clock,
            rng: SmallRng::from_entropy(),
            queue_names: Vec::new(),
            queue_numbers: FxHashMap::default(),
            worked: Vec::new(),
            running: Vec::new(),
            running_total: 0,
            events: Vec::new(),
            state_events: false,
            worker_id: new_task_id().to_string(),
            closed: false,
        };
        if let Some(qs) = e.cfg.queues.clone() {
            for q in qs {
                let n = e.queue_number(&q);
                e.worked.push(n);
            }
        }
        e
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn queue_number(&mut self, name: &str) -> u32 {
        if let Some(n) = self.queue_numbers.get(name) {
            return *n;
        }
        let n = self.queue_names.len() as u32;
        self.queue_names.push(name.to_string());
        self.queue_numbers.insert(name.to_string(), n);
        n
    }

    // ---- registry ------------------------------------------------------------------

    /// Registers a task; returns its definition index.
    pub fn register(&mut self, def: TaskDef) -> Result<u32> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        let queue = def.queue.clone();
        let idx = self.registry.add(def, &self.cfg.retry)?;
        let q = self.queue_number(&queue);
        if self.cfg.queues.is_none() && !self.worked.contains(&q) {
            self.worked.push(q);
        }
        self.running.push(0);
        Ok(idx)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The timeout that applies to a definition: its own, else the executor's.
    pub fn timeout_ms(&self, def: u32) -> Option<u64> {
        self.registry.get(def).timeout_ms.or(self.cfg.timeout_ms)
    }

    /// JSON array of the definitions carrying every tag in `tags`.
    pub fn defs_json(&self, tags: &[String]) -> String {
        let list: Vec<_> =
            self.registry.iter().filter(|(_, d)| d.has_tags(tags)).map(|(i, _)| self.def_view(i)).collect();
        serde_json::to_string(&list).expect("definitions serialize")
    }

    pub fn def_json(&self, def: u32) -> String {
        serde_json::to_string(&self.def_view(def)).expect("definition serializes")
    }

    fn def_view(&self, def: u32) -> serde_json::Value {
        let mut v = serde_json::to_value(self.registry.info(def)).expect("definition serializes");
        v["timeoutMs"] = self.timeout_ms(def).into();
        v
    }

    // ---- submit --------------------------------------------------------------------

    /// Enqueues one task per payload (JSON texts); returns their ids in order. With an
    /// idempotency key, a task that already has the key is returned instead of a new one.
    pub fn submit<'a>(
        &mut self,
        def: u32,
        payloads: impl IntoIterator<Item = &'a str>,
        opts: &SubmitOptions,
    ) -> Result<Vec<TaskId>> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        if let Some(key) = &opts.key {
            if let Some(slot) = self.store.slot_of_key(key) {
                return Ok(vec![self.store.get(slot).expect("keyed slot exists").id]);
            }
        }
        let now = self.now();
        let d = self.registry.get(def);
        let priority = opts.priority.unwrap_or(d.priority);
        let queue = self.queue_numbers[&d.queue];
        let run_at = opts.run_at_ms.unwrap_or(0);
        let payloads = payloads.into_iter();
        self.store.reserve(payloads.size_hint().0);
        let mut ids = Vec::with_capacity(payloads.size_hint().0);
        for payload in payloads {
            let mut record = Record {
                id: TaskId::nil(),
                def,
                queue,
                state: TaskState::Pending,
                priority,
                attempt: 0,
                seq: 0,
                run_at,
                created_at: now,
                started_at: 0,
                completed_at: 0,
                payload: payload.into(),
                result: None,
                watched: false,
                cancel_requested: false,
                extra: None,
            };
            if let Some(k) = &opts.key {
                if !ids.is_empty() {
                    return Err(EngineError::invalid("an idempotency `key` applies to a single task"));
                }
                record.extra_mut().key = Some(k.clone());
            }
            let (slot, id) = self.store.insert(record, now);
            if self.state_events {
                self.events.push(Event::State { slot, state: TaskState::Pending });
            }
            ids.push(id);
        }
        Ok(ids)
    }

    // ---- claim and complete ----------------------------------------------------------

    /// Claims up to `capacity` ready tasks, marks them STARTED and appends five JSON
    /// values per task to `out`, comma separated: `slot,"id",def,attempt,payload`.
    /// (A flat list parses much faster in V8 than an array per task.) Returns how many
    /// were claimed.
    pub fn claim(&mut self, capacity: usize, out: &mut String) -> usize {
        if !self.cfg.worker || self.closed || capacity == 0 {
            return 0;
        }
        let now = self.now();
        self.store.promote_due(now);
        let mut claimed = 0;
        let mut id_buf = uuid::Uuid::encode_buffer();
        while claimed < capacity {
            let (registry, running) = (&self.registry, &self.running);
            let mut admit = |def: u32| match registry.get(def).max_parallel {
                Some(max) => running[def as usize] < max,
                None => true,
            };
            let Some(slot) = self.store.pop_ready(&self.worked, &mut admit) else { break };
            let r = self.store.get_mut(slot).expect("claimed slot exists");
            // PENDING|RETRY -> RECEIVED -> STARTED: the host invokes the handler at once.
            r.state = r.state.transition(TaskState::Received, &r.id).expect("ready tasks are claimable");
            r.state = TaskState::Started;
            r.attempt += 1;
            r.started_at = now;
            let def = r.def;
            if claimed > 0 {
                out.push(',');
            }
            let mut num = itoa::Buffer::new();
            out.push_str(num.format(slot));
            out.push_str(",\"");
            out.push_str(r.id.hyphenated().encode_lower(&mut id_buf));
            out.push_str("\",");
            out.push_str(num.format(def));
            out.push(',');
            out.push_str(num.format(r.attempt));
            out.push(',');
            out.push_str(&r.payload);
            self.running[def as usize] += 1;
            self.running_total += 1;
            claimed += 1;
            if self.state_events {
                self.events.push(Event::State { slot, state: TaskState::Received });
                self.events.push(Event::State { slot, state: TaskState::Started });
            }
        }
        claimed
    }

    /// Records how a run ended and decides what follows: SUCCESS, a RETRY after a
    /// backoff, FAILURE, or REVOKED when a cancel was requested while it ran.
    pub fn complete(&mut self, slot: u32, completion: Completion) {
        let now = self.now();
        self.complete_at(slot, completion, now);
    }

    /// Records a batch of completions, reading the clock once.
    pub fn complete_many(&mut self, batch: impl IntoIterator<Item = (u32, Completion)>) {
        let now = self.now();
        for (slot, completion) in batch {
            self.complete_at(slot, completion, now);
        }
    }

    fn complete_at(&mut self, slot: u32, completion: Completion, now: u64) {
        let Some(r) = self.store.get_mut(slot) else { return };
        if r.state != TaskState::Started {
            return; // a stale report (the run was already settled); nothing to do
        }
        let def = r.def;
        let next = if r.cancel_requested {
            if let Completion::Failure(e) = completion {
                r.extra_mut().error = Some(e);
            }
            TaskState::Revoked
        } else {
            match completion {
                Completion::Success(result) => {
                    r.result = Some(result);
                    TaskState::Success
                }
                Completion::Failure(error) => {
                    let policy = self.registry.retry_policy(def);
                    let decision = policy.decide(r.attempt, error.non_retryable, &mut self.rng);
                    r.extra_mut().error = Some(error);
                    match decision {
                        Some(delay) => {
                            r.state = TaskState::Retry;
                            self.release_running(def);
                            self.store.requeue(slot, now + delay, now);
                            self.note_state(slot, TaskState::Retry);
                            return;
                        }
                        None => TaskState::Failure,
                    }
                }
            }
        };
        let r = self.store.get_mut(slot).expect("slot exists");
        r.state = r.state.transition(next, &r.id).expect("STARTED may end this way");
        r.completed_at = now;
        self.release_running(def);
        self.settle(slot, now);
    }

    fn release_running(&mut self, def: u32) {
        self.running[def as usize] -= 1;
        self.running_total -= 1;
        self.store.unpark(def);
    }

    fn note_state(&mut self, slot: u32, state: TaskState) {
        if self.state_events {
            self.events.push(Event::State { slot, state });
        }
    }

    /// A task reached a final state: tell its watchers, then apply retention.
    fn settle(&mut self, slot: u32, now: u64) {
        let r = self.store.get(slot).expect("slot exists");
        let (state, watched) = (r.state, r.watched);
        self.note_state(slot, state);
        if watched {
            self.events.push(Event::Settled { slot });
        }
        self.store.finished(slot);
        if self.events.is_empty() {
            // Events refer to slots: evict only once the host has read them.
            self.evict(now);
        }
    }

    fn evict(&mut self, now: u64) {
        self.store.evict(now, self.cfg.keep_count, self.cfg.keep_age_ms);
    }

    // ---- cancel, watch, control --------------------------------------------------------

    pub fn cancel(&mut self, id: &str) -> Result<CancelOutcome> {
        let slot = self.slot(id)?;
        let now = self.now();
        let r = self.store.get_mut(slot).expect("slot exists");
        match r.state {
            TaskState::Pending | TaskState::Retry => {
                r.state = r.state.transition(TaskState::Revoked, &r.id)?;
                r.completed_at = now;
                self.settle(slot, now);
                Ok(CancelOutcome::Revoked)
            }
            TaskState::Received | TaskState::Started => {
                r.cancel_requested = true;
                Ok(CancelOutcome::AbortRunning(slot))
            }
            s => Ok(CancelOutcome::AlreadyFinal(s)),
        }
    }

    /// Asks for a `Settled` event when the task finishes; returns its slot and whether
    /// it has finished already (then no event follows).
    pub fn watch(&mut self, id: &str) -> Result<(u32, bool)> {
        let slot = self.slot(id)?;
        let r = self.store.get_mut(slot).expect("slot exists");
        if r.state.is_final() {
            return Ok((slot, true));
        }
        r.watched = true;
        Ok((slot, false))
    }

    /// The running task in `slot`, if it is still running (controls sent after the
    /// handler returned are dropped).
    fn running_record(&mut self, slot: u32) -> Option<&mut Record> {
        self.store.get_mut(slot).filter(|r| r.state == TaskState::Started)
    }

    pub fn set_progress(&mut self, slot: u32, percent: f64, message: Option<String>) -> Result<()> {
        if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
            return Err(EngineError::invalid(format!("progress must be a number from 0 to 100, got {percent}")));
        }
        if let Some(r) = self.running_record(slot) {
            let x = r.extra_mut();
            x.progress = Some(percent);
            x.progress_message = message;
        }
        Ok(())
    }

    pub fn set_status(&mut self, slot: u32, status: String) {
        if let Some(r) = self.running_record(slot) {
            r.extra_mut().status = Some(status);
        }
    }

    pub fn log(&mut self, slot: u32, level: &str, message: String) -> Result<()> {
        if !matches!(level, "debug" | "info" | "warning" | "warn" | "error") {
            return Err(EngineError::invalid(format!(
                "log level must be 'debug', 'info', 'warning' or 'error', got '{level}'"
            )));
        }
        let level = if level == "warn" { "warning" } else { level };
        let now = self.now();
        if let Some(r) = self.running_record(slot) {
            let logs = &mut r.extra_mut().logs;
            if logs.len() >= MAX_LOGS_PER_TASK {
                logs.remove(0);
            }
            logs.push(LogEntry { time: now, level: level.to_string(), message });
        }
        Ok(())
    }

    // ---- queries ---------------------------------------------------------------------

    fn slot(&self, id: &str) -> Result<u32> {
        let parsed: TaskId = parse_task_id(id)?;
        self.store.slot_of(&parsed).ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    pub fn state(&self, id: &str) -> Result<TaskState> {
        let slot = self.slot(id)?;
        Ok(self.store.get(slot).expect("slot exists").state)
    }

    pub fn info_json(&self, id: &str) -> Result<String> {
        let slot = self.slot(id)?;
        Ok(self.slot_info_json(slot))
    }

    /// Full info of the task in `slot` as JSON (see `TaskInfoView`).
    pub fn slot_info_json(&self, slot: u32) -> String {
        let r = self.store.get(slot).expect("slot exists");
        let d = self.registry.get(r.def);
        let x = r.extra.as_deref();
        let retries = if r.state == TaskState::Retry { r.attempt } else { r.attempt.saturating_sub(1) };
        let view = TaskInfoView {
            id: r.id.to_string(),
            name: &d.name,
            queue: &d.queue,
            state: r.state,
            payload: raw(&r.payload),
            result: r.result.as_deref().map(raw),
            error: x.and_then(|x| x.error.as_ref()),
            attempt: r.attempt,
            retries,
            priority: r.priority,
            progress: x.and_then(|x| x.progress),
            progress_message: x.and_then(|x| x.progress_message.as_deref()),
            status: x.and_then(|x| x.status.as_deref()),
            logs: x.map(|x| &x.logs[..]).unwrap_or(&[]),
            key: x.and_then(|x| x.key.as_deref()),
            created_at: r.created_at,
            run_at: (r.run_at > 0).then_some(r.run_at),
            started_at: (r.started_at > 0).then_some(r.started_at),
            completed_at: (r.completed_at > 0).then_some(r.completed_at),
            worker_id: (r.attempt > 0).then_some(self.worker_id.as_str()),
        };
        serde_json::to_string(&view).expect("task info serializes")
    }

    /// The id of the task in `slot`.
    pub fn slot_id(&self, slot: u32) -> Option<TaskId> {
        self.store.get(slot).map(|r| r.id)
    }

    // ---- events, timing, lifecycle -------------------------------------------------------

    pub fn set_state_events(&mut self, on: bool) {
        self.state_events = on;
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Appends the pending events as JSON entries to `out` and clears them:
    /// `["settled",<task info>]` or `["state","id","name","STATE"]`.
    pub fn drain_events(&mut self, out: &mut String) -> usize {
        let events = std::mem::take(&mut self.events);
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match *e {
                Event::Settled { slot } => {
                    out.push_str("[\"settled\",");
                    out.push_str(&self.slot_info_json(slot));
                    out.push(']');
                }
                Event::State { slot, state } => {
                    let r = self.store.get(slot).expect("slot exists");
                    let _ = write!(out, "[\"state\",\"{}\",", r.id);
                    push_json_str(out, &self.registry.get(r.def).name);
                    let _ = write!(out, ",\"{}\"]", state.as_str());
                }
            }
        }
        let now = self.now();
        self.evict(now);
        events.len()
    }

    /// When the next delayed task or retry is due (ms since the epoch), if any.
    pub fn next_due(&mut self) -> Option<u64> {
        self.store.next_due()
    }

    /// Tasks not finished yet (queued, delayed, waiting to retry or running).
    pub fn unfinished(&self) -> usize {
        self.store.live_count()
    }

    pub fn running(&self) -> usize {
        self.running_total
    }

    /// Stops claiming and registering; queries keep working.
    pub fn close(&mut self) {
        self.closed = true;
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl Engine {
    /// For direct runs (`ex.run`), which retry without the store: `Some(delay)` to retry
    /// after failed attempt number `attempt`, `None` to give up.
    pub fn retry_decision(&mut self, def: u32, attempt: u32, non_retryable: bool) -> Option<u64> {
        self.registry.retry_policy(def).decide(attempt, non_retryable, &mut self.rng)
    }
}

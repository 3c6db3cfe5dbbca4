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
use crate::options::{parse_json, positive_whole_number, SubmitOptions};
use crate::policy::breaker::{OnOpen, Transition};
use crate::policy::{
    Breaker, BreakerState, Limiter, Permit, RateLimitSpec, RetryPolicy, RetrySpec,
};
use crate::registry::{validate_name, Registry, TaskDef};
use crate::store::{LogEntry, MemoryStore, Record};
use crate::task::{new_task_id, parse_task_id, TaskError, TaskId, TaskState};
use crate::wire::push_json_str;

mod artifacts;
mod durable;
mod event_log;
mod introspect;
mod queue_control;
mod schedules;
mod shared_registry;
mod task_actions;
mod workflows;
use crate::metrics::RunEnd;
use durable::Durable;
pub use durable::DEFAULT_LEASE_MS;
pub use workflows::WORKFLOW_TASK;

// These live on the ground floor (task.rs), so that wire.rs and the stores import
// nothing from this module.
pub use crate::task::{Completion, MAX_LOGS_PER_TASK};

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
    /// The task runs in another process; its worker aborts it when it sees the request.
    Requested,
}

/// Something an observer may want to know, collected until the host takes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A watched task reached a final state.
    Settled { slot: u32 },
    /// Any state change, when state events are switched on.
    State { slot: u32, state: TaskState },
    /// A state change whose task left memory before the host read it (its document,
    /// rendered as it left: see `Engine::render_state_events`).
    StateDoc(String),
    /// A state change of a task not held in memory (a durable submit's PENDING).
    StateOf {
        id: TaskId,
        def: u32,
        state: TaskState,
    },
    /// A task that this process did not hold reached a final state (its info as JSON).
    SettledInfo(String),
    /// A running task must have its signal aborted (a cancel from another process).
    Abort { slot: u32 },
    /// Progress, status and log events of tasks running in other processes: a JSON
    /// array of `["progress", id, name, percent, message]`, `["status", id, name,
    /// status]` and `["log", id, name, level, message, time]`.
    Remote(String),
    /// A submit was committed to the durable store (or failed to be).
    Committed {
        ticket: u64,
        outcome: std::result::Result<Option<String>, String>,
    },
    /// A task's circuit breaker changed state.
    Breaker {
        def: u32,
        from: BreakerState,
        to: BreakerState,
    },
    /// A rate limit holds tasks back until `until` (ms).
    RateLimited { scope: LimitScope, until: u64 },
    /// The durable store's writes began failing (once per episode): why.
    StoreFault(String),
    /// Workers sharing the store define one task differently: what differs.
    DefinitionConflict(String),
}

/// Where a watched task's outcome comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Watch {
    /// It has finished: its outcome (JSON).
    Final(String),
    /// It is held here, in this slot: a `done` / `ok` event naming the slot follows.
    Here(u32),
    /// It is held elsewhere (a durable store): a `settled` event with its info follows.
    Elsewhere,
}

/// Which limit held tasks back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    Task(u32),
    Queue(u32),
    Executor,
}

pub use crate::options::KeepResultsSpec;

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
    /// A limit on task starts across this executor.
    pub rate_limit: Option<RateLimitSpec>,
    /// Limits on task starts per queue, by queue name.
    pub queue_rate_limits: Option<std::collections::BTreeMap<String, RateLimitSpec>>,
    /// Durable stores: how long a claimed task stays leased without a renewal.
    pub lease_ms: Option<f64>,
    /// Durable stores: how often to look for tasks other processes submitted.
    pub poll_interval_ms: Option<f64>,
    /// Durable stores: how long claimed tasks wait for this process's JS thread to take
    /// them before they go back to the store for other workers.
    pub claim_hold_ms: Option<f64>,
    /// The Redis store: the namespace every key lives under.
    pub namespace: Option<String>,
    /// The Redis store: what a submit does while Redis is unreachable.
    pub offline_submits: Option<String>,
    /// Count runs for `metrics()` (default true).
    pub metrics: Option<bool>,
}

// Where tasks are kept: the stores' own concept, opened by `store::open`.
pub use crate::store::StoreKind;

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
    pub rate_limit: Option<crate::policy::Rate>,
    pub queue_rate_limits: Vec<(String, crate::policy::Rate)>,
    pub store: StoreKind,
    pub lease_ms: u64,
    pub poll_ms: u64,
    /// See `EngineConfigSpec::claim_hold_ms`.
    pub claim_hold_ms: u64,
    /// The Redis store's namespace (keys start with `{namespace}`).
    pub namespace: String,
    /// The Redis store: submits made while Redis is unreachable wait in memory until it
    /// is back (true), or reject at once (false, the default).
    pub queue_offline_submits: bool,
    /// Whether the engine counts runs for `metrics()`.
    pub metrics: bool,
}

pub const DEFAULT_CONCURRENCY: u32 = 64;
/// The Redis store's namespace when none is given.
pub const DEFAULT_NAMESPACE: &str = "taskloom";

/// A namespace becomes a Redis Cluster hash tag, `{namespace}`: braces would break it.
fn validate_namespace(ns: &str) -> Result<()> {
    if ns.is_empty()
        || ns.len() > 128
        || ns.contains(['{', '}'])
        || ns.chars().any(char::is_whitespace)
    {
        return Err(EngineError::invalid(format!(
            "`namespace` must be 1 to 128 characters without braces or spaces, got '{ns}'"
        )));
    }
    Ok(())
}
pub const DEFAULT_KEEP_RESULTS: usize = 100_000;
/// How often a durable store looks for work other processes submitted.
pub const DEFAULT_POLL_MS: u64 = 50;
/// How long claimed tasks wait for the JS thread before they are released to others.
pub const DEFAULT_CLAIM_HOLD_MS: u64 = 1_000;

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
            rate_limit: None,
            queue_rate_limits: Vec::new(),
            store: StoreKind::Memory,
            lease_ms: DEFAULT_LEASE_MS,
            poll_ms: DEFAULT_POLL_MS,
            claim_hold_ms: DEFAULT_CLAIM_HOLD_MS,
            namespace: DEFAULT_NAMESPACE.to_string(),
            queue_offline_submits: false,
            metrics: true,
        }
    }
}

impl EngineConfig {
    pub fn from_json(json: &str) -> Result<EngineConfig> {
        let spec: EngineConfigSpec = if json.is_empty() {
            EngineConfigSpec::default()
        } else {
            parse_json(json, "executor options")?
        };
        let mut cfg = EngineConfig::default();
        if let Some(store) = &spec.store {
            cfg.store = StoreKind::parse(store)?;
        }
        if let Some(l) = spec.lease_ms {
            cfg.lease_ms = positive_whole_number("leaseMs", l)?.max(30);
        }
        if let Some(ns) = spec.namespace {
            validate_namespace(&ns)?;
            cfg.namespace = ns;
        }
        cfg.queue_offline_submits = match spec.offline_submits.as_deref() {
            None | Some("reject") => false,
            Some("queue") => true,
            Some(other) => {
                return Err(EngineError::invalid(format!(
                    "`offlineSubmits` must be 'reject' or 'queue', got '{other}'"
                )))
            }
        };
        if let Some(m) = spec.metrics {
            cfg.metrics = m;
        }
        if let Some(h) = spec.claim_hold_ms {
            cfg.claim_hold_ms = positive_whole_number("claimHoldMs", h)?;
        }
        if let Some(p) = spec.poll_interval_ms {
            cfg.poll_ms = positive_whole_number("pollIntervalMs", p)?;
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
        if !cfg.worker && matches!(cfg.store, StoreKind::Memory) {
            return Err(EngineError::invalid(
                "`worker: false` with the memory store: nothing could ever run its tasks (the memory store lives in this process only); use a shared store (sqlite:<path>, redis://…) for a producer, or leave `worker` on",
            ));
        }
        if let Some(r) = spec.retry {
            cfg.retry = r.overlay(&cfg.retry, "retry")?;
        }
        cfg.timeout_ms = spec
            .timeout_ms
            .map(|t| positive_whole_number("timeoutMs", t))
            .transpose()?;
        if let Some(k) = spec.keep_results {
            (cfg.keep_count, cfg.keep_age_ms) = k.overlay((cfg.keep_count, None), "keepResults")?;
        }
        cfg.rate_limit = spec
            .rate_limit
            .map(|r| r.validate("rateLimit"))
            .transpose()?;
        for (queue, r) in spec.queue_rate_limits.unwrap_or_default() {
            validate_name("queue", &queue)?;
            let rate = r.validate(&format!("queueRateLimits.{queue}"))?;
            cfg.queue_rate_limits.push((queue, rate));
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
    /// Payload and result travel as their JSON *texts* (JSON strings holding JSON): they
    /// are never parsed here, so any value JS wrote comes back exactly, at any depth and
    /// with any string (lone surrogates included). The JS layer parses them.
    payload: &'a str,
    result: Option<&'a str>,
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
    breaker: Option<BreakerBrief>,
}

#[derive(Serialize)]
struct BreakerBrief {
    state: BreakerState,
    failures: u64,
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
    /// The definitions whose queue is worked here.
    worked_defs: Vec<u32>,
    /// Per definition: its queue number.
    def_queue: Vec<u32>,
    /// Per definition: tasks of it running now, for `maxParallel`.
    running: Vec<u32>,
    /// Per definition: its rate limiter, breaker, and until when its limit holds it back.
    def_limiters: Vec<Option<Limiter>>,
    breakers: Vec<Option<Breaker>>,
    /// What this process counted per definition (see `metrics.rs`).
    metrics: crate::metrics::Metrics,
    def_wait_until: Vec<u64>,
    /// Per queue number: its rate limiter and until when it holds the queue back.
    queue_limiters: Vec<Option<Limiter>>,
    queue_wait_until: Vec<u64>,
    /// Per queue number: paused (the memory store; durable stores keep it themselves).
    queue_paused: Vec<bool>,
    executor_limiter: Option<Limiter>,
    executor_wait_until: u64,
    /// Scratch list of the definitions that may run now, reused by every claim.
    candidates: Vec<u32>,
    running_total: usize,
    events: Vec<Event>,
    state_events: bool,
    worker_id: String,
    closed: bool,
    /// The durable store and what this process holds of it; None for the memory store.
    durable: Option<Durable>,
    /// Retention groups (count, max age): 0 is the executor's `keepResults`, then one
    /// per task name with its own; `def_group` maps each definition to its group.
    retention: Vec<(usize, Option<u64>)>,
    def_group: Vec<usize>,
    /// Cron schedules, with the memory store (durable stores keep their own).
    schedules: schedules::MemorySchedules,
}

impl Engine {
    /// An engine on the memory store (`cfg.store` is ignored; see `open`).
    pub fn new(cfg: EngineConfig) -> Engine {
        Self::with_clock(cfg, Arc::new(SystemClock))
    }

    /// An engine on the store `cfg.store` names, opening it.
    pub fn open(cfg: EngineConfig) -> Result<Engine> {
        Self::open_with_clock(cfg, Arc::new(SystemClock))
    }

    pub fn open_with_clock(cfg: EngineConfig, clock: Arc<dyn Clock>) -> Result<Engine> {
        let mut e = Self::with_clock(cfg, clock);
        e.durable = Durable::open(&e)?;
        Ok(e)
    }

    /// Whether tasks live in a durable store (submits resolve once committed).
    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    pub fn with_clock(cfg: EngineConfig, clock: Arc<dyn Clock>) -> Engine {
        let count_runs = cfg.metrics;
        let mut e = Engine {
            cfg,
            registry: Registry::default(),
            store: MemoryStore::new(),
            clock,
            rng: SmallRng::from_entropy(),
            queue_names: Vec::new(),
            queue_numbers: FxHashMap::default(),
            worked: Vec::new(),
            worked_defs: Vec::new(),
            def_queue: Vec::new(),
            running: Vec::new(),
            def_limiters: Vec::new(),
            breakers: Vec::new(),
            metrics: crate::metrics::Metrics {
                enabled: count_runs,
                defs: Vec::new(),
            },
            def_wait_until: Vec::new(),
            queue_limiters: Vec::new(),
            queue_wait_until: Vec::new(),
            queue_paused: Vec::new(),
            executor_limiter: None,
            executor_wait_until: 0,
            candidates: Vec::new(),
            running_total: 0,
            events: Vec::new(),
            state_events: false,
            worker_id: new_task_id().to_string(),
            closed: false,
            durable: None,
            retention: Vec::new(),
            def_group: Vec::new(),
            schedules: Default::default(),
        };
        e.retention.push((e.cfg.keep_count, e.cfg.keep_age_ms));
        if let Some(qs) = e.cfg.queues.clone() {
            for q in qs {
                let n = e.queue_number(&q);
                e.worked.push(n);
            }
        }
        e.executor_limiter = e.cfg.rate_limit.map(|r| Limiter::new(r, e.clock.clone()));
        for (q, rate) in e.cfg.queue_rate_limits.clone() {
            let n = e.queue_number(&q) as usize;
            e.queue_limiters[n] = Some(Limiter::new(rate, e.clock.clone()));
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
        self.queue_limiters.push(None);
        self.queue_wait_until.push(0);
        self.queue_paused.push(false);
        n
    }

    // ---- registry ------------------------------------------------------------------

    /// Registers a task; returns its definition index. A name this process has so far
    /// only submitted (a remote definition, see `shared_registry.rs`) is taken over at
    /// the same index; so is a remote definition refreshed from the store.
    pub fn register(&mut self, def: TaskDef) -> Result<u32> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        if self.cfg.worker && def.size > self.cfg.concurrency {
            return Err(EngineError::invalid(format!(
                "task '{}' has size {}, more than the executor's concurrency of {}: it could never start (raise `concurrency` or lower `size`)",
                def.name, def.size, self.cfg.concurrency
            )));
        }
        let over = self
            .registry
            .find(&def.name)
            .filter(|d| d.remote.is_some())
            .map(|_| self.registry.index_of(&def.name).expect("found by name"));
        let remote = def.remote.is_some();
        let queue = def.queue.clone();
        let limiter = def.rate_limit.map(|r| Limiter::new(r, self.clock.clone()));
        let breaker = def.circuit_breaker.clone().map(Breaker::new);
        let own_retention = def
            .keep_results
            .as_ref()
            .map(|k| k.overlay((self.cfg.keep_count, self.cfg.keep_age_ms), "keepResults"))
            .transpose()?;
        let idx = match over {
            Some(i) => {
                self.registry.replace(i, def, &self.cfg.retry)?;
                i
            }
            None => self.registry.add(def, &self.cfg.retry)?,
        };
        let group = match own_retention {
            Some(r) => {
                self.retention.push(r);
                self.retention.len() - 1
            }
            None => 0,
        };
        let q = self.queue_number(&queue);
        // A remote definition runs elsewhere: its queue is not worked here for it.
        if !remote {
            if self.cfg.queues.is_none() && !self.worked.contains(&q) {
                self.worked.push(q);
            }
            if self.worked.contains(&q) && !self.worked_defs.contains(&idx) {
                self.worked_defs.push(idx);
            }
        }
        if over.is_some() {
            let i = idx as usize;
            self.def_group[i] = group;
            self.def_queue[i] = q;
            self.def_limiters[i] = limiter;
            self.breakers[i] = breaker;
        } else {
            self.def_group.push(group);
            self.def_queue.push(q);
            self.running.push(0);
            self.def_limiters.push(limiter);
            self.breakers.push(breaker);
            self.def_wait_until.push(0);
        }
        self.durable_registered();
        if !remote {
            self.publish_definition(idx);
        }
        Ok(idx)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The timeout that applies to a definition: its own, else the executor's.
    pub fn timeout_ms(&self, def: u32) -> Option<u64> {
        self.registry.get(def).timeout_ms.or(self.cfg.timeout_ms)
    }

    pub fn def_json(&self, def: u32) -> String {
        serde_json::to_string(&self.def_view(def)).expect("definition serializes")
    }

    pub(super) fn def_view(&self, def: u32) -> serde_json::Value {
        let mut v = serde_json::to_value(self.registry.info(def)).expect("definition serializes");
        v["timeoutMs"] = self.timeout_ms(def).into();
        let (count, age) = self.retention_of(def);
        v["keepResults"] = serde_json::json!({ "count": count, "ageMs": age });
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
        if self.durable.is_some() {
            // A producer's remote definition may have gained (or changed) its params.
            let now = self.now();
            self.refresh_remote(def, now);
        }
        if self.registry.get(def).params.is_none() {
            return self.submit_checked(def, payloads, opts);
        }
        // Every payload is checked before any is stored: a batch is all or nothing.
        let payloads: Vec<&str> = payloads.into_iter().collect();
        let d = self.registry.get(def);
        for p in &payloads {
            d.check_payload(p)?;
        }
        self.submit_checked(def, payloads, opts)
    }

    /// Checks `payload` (JSON text) against the params of `def`, as a submit would.
    pub fn check_payload(&self, def: u32, payload: &str) -> Result<()> {
        self.registry.get(def).check_payload(payload)
    }

    fn submit_checked<'a>(
        &mut self,
        def: u32,
        payloads: impl IntoIterator<Item = &'a str>,
        opts: &SubmitOptions,
    ) -> Result<Vec<TaskId>> {
        if self.durable.is_some() {
            return self.durable_submit(def, payloads, opts);
        }
        self.submit_queue(def, opts)?;
        if let Some(key) = &opts.key {
            if let Some(slot) = self.store.slot_of_key(key) {
                return Ok(vec![self.store.get(slot).expect("keyed slot exists").id]);
            }
        }
        let now = self.now();
        let d = self.registry.get(def);
        let priority = opts.priority.unwrap_or(d.priority);
        let run_at = opts.run_at_ms.unwrap_or(0);
        let payloads = payloads.into_iter();
        self.store.reserve(payloads.size_hint().0);
        let mut ids = Vec::with_capacity(payloads.size_hint().0);
        for payload in payloads {
            let mut record = Record {
                id: TaskId::nil(),
                def,
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
                trial: false,
                committing: false,
                extra: None,
            };
            if let Some(k) = &opts.key {
                if !ids.is_empty() {
                    return Err(EngineError::invalid(
                        "an idempotency `key` applies to a single task",
                    ));
                }
                record.extra_mut().key = Some(k.clone());
            }
            if let Some(t) = &opts.trace {
                record.extra_mut().trace = Some(t.to_string());
            }
            let (slot, id) = self.store.insert(record, now);
            self.note_state(slot, TaskState::Pending);
            ids.push(id);
        }
        Ok(ids)
    }

    // ---- claim and complete ----------------------------------------------------------

    /// Claims ready tasks that fit in `capacity` slots (a task takes its definition's
    /// `size`), marks them STARTED and appends five JSON values per task to `out`, comma
    /// separated: `slot,"id",def,attempt,payload`. (A flat list parses much faster in V8
    /// than an array per task.) Returns how many were claimed. A task too big for the
    /// slots left waits first in line: smaller tasks behind it do not overtake it, so a
    /// large task is never starved by a stream of small ones.
    ///
    /// A task is claimed when its definition admits it — below `maxParallel`, not held
    /// by its rate limit, its breaker permitting — and then only if a cell is free in its
    /// own limit, its queue's and the executor's. A task held back stays first in its
    /// line with its attempt untouched; other definitions go on.
    pub fn claim(&mut self, capacity: usize, out: &mut String) -> usize {
        let now = self.now();
        self.claim_at(now, capacity, out)
    }

    /// `claim` at a given time. A dispatch step uses one `now` for `claim_at` and
    /// `next_due_at`: read twice, the clock could cross a millisecond in between, and a
    /// wait that the claim saw as running would look over to `next_due` — nobody would
    /// then wake up for it.
    pub fn claim_at(&mut self, now: u64, capacity: usize, out: &mut String) -> usize {
        if self.durable.is_some() {
            self.durable_intake(now);
        }
        if !self.cfg.worker || self.closed {
            return 0;
        }
        self.store.promote_due(now);
        self.tick_breakers(now);
        let mut claimed = 0;
        let mut slots_taken = 0;
        let mut id_buf = uuid::Uuid::encode_buffer();
        // The definitions that may start a task now, worked out once per claim; only the
        // definition just claimed, or a queue / the executor whose limit ran dry, changes it.
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        for i in 0..self.worked_defs.len() {
            let d = self.worked_defs[i];
            if self.admits(d, now) {
                candidates.push(d);
            }
        }
        while slots_taken < capacity && self.executor_wait_until <= now {
            let Some((def, _)) = self.store.peek_ready(&candidates) else {
                break;
            };
            let size = self.registry.get(def).size as usize;
            if slots_taken + size > capacity {
                break;
            }
            if !self.take_cells(def, now) {
                if self.executor_wait_until > now {
                    break;
                }
                let q = self.def_queue[def as usize];
                if self.queue_wait_until[q as usize] > now {
                    let def_queue = &self.def_queue;
                    candidates.retain(|d| def_queue[*d as usize] != q);
                } else {
                    candidates.retain(|d| *d != def);
                }
                continue;
            }
            let trial = match &mut self.breakers[def as usize] {
                Some(b) => {
                    let trial = matches!(b.permit(now).0, Permit::Run { trial: true });
                    b.start(trial);
                    trial
                }
                None => false,
            };
            let slot = self
                .store
                .take_ready(def)
                .expect("the peeked task is still first in line");
            if let Some(d) = &mut self.durable {
                d.started_one(def);
                d.starting(slot);
            }
            let r = self.store.get_mut(slot).expect("claimed slot exists");
            // PENDING|RETRY -> RECEIVED -> STARTED: the host invokes the handler at once.
            r.state = r
                .state
                .transition(TaskState::Received, &r.id)
                .expect("ready tasks are claimable");
            r.state = TaskState::Started;
            r.attempt += 1;
            r.started_at = now;
            let ready_at = if r.run_at > 0 { r.run_at } else { r.created_at };
            self.metrics.started(def, now.saturating_sub(ready_at));
            let r = self.store.get_mut(slot).expect("claimed slot exists");
            r.trial = trial;
            if r.cancel_requested {
                // Cancelled before it started, to start aborted (a workflow coordinator,
                // see `cancel_from_elsewhere`): its handler sees its signal abort at once.
                self.events.push(Event::Abort { slot });
            }
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
            slots_taken += size;
            self.note_state(slot, TaskState::Received);
            self.note_state(slot, TaskState::Started);
            // Its maxParallel may be reached, or its half-open trials used up.
            if (self.registry.get(def).max_parallel.is_some() || trial) && !self.admits(def, now) {
                candidates.retain(|d| *d != def);
            }
        }
        self.candidates = candidates;
        if self.durable.is_some() {
            self.send_started(now);
            self.durable_request_claims(now, capacity - slots_taken);
        }
        claimed
    }

    /// Whether `def`'s policies let one more of its tasks start now. A breaker that is
    /// open with `onOpen: 'fail'` fails the definition's ready tasks here.
    fn admits(&mut self, def: u32, now: u64) -> bool {
        let d = def as usize;
        if let Some(max) = self.registry.get(def).max_parallel {
            if self.running[d] >= max {
                return false;
            }
        }
        let q = self.def_queue[d] as usize;
        if self.def_wait_until[d] > now || self.queue_wait_until[q] > now || self.queue_paused[q] {
            return false;
        }
        let Some(breaker) = &mut self.breakers[d] else {
            return true;
        };
        let (permit, transition) = breaker.permit(now);
        self.note_breaker(def, transition);
        match permit {
            Permit::Run { .. } => true,
            Permit::Wait(_) => false,
            Permit::Reject => {
                self.reject_ready(def, now);
                false
            }
        }
    }

    /// Takes a cell from each rate limit that applies to `def`: its own, its queue's, the
    /// executor's. A limit without a free cell holds its scope back until it has one.
    fn take_cells(&mut self, def: u32, now: u64) -> bool {
        let d = def as usize;
        if let Some(l) = &self.def_limiters[d] {
            if let Err(until) = l.try_acquire() {
                self.def_wait_until[d] = until.max(now + 1);
                self.metrics.rate_limited(def);
                self.events.push(Event::RateLimited {
                    scope: LimitScope::Task(def),
                    until: self.def_wait_until[d],
                });
                return false;
            }
        }
        let q = self.def_queue[d] as usize;
        if let Some(l) = &self.queue_limiters[q] {
            if let Err(until) = l.try_acquire() {
                self.queue_wait_until[q] = until.max(now + 1);
                self.metrics.rate_limited(def);
                self.events.push(Event::RateLimited {
                    scope: LimitScope::Queue(q as u32),
                    until: self.queue_wait_until[q],
                });
                return false;
            }
        }
        if let Some(l) = &self.executor_limiter {
            if let Err(until) = l.try_acquire() {
                self.executor_wait_until = until.max(now + 1);
                self.metrics.rate_limited(def);
                self.events.push(Event::RateLimited {
                    scope: LimitScope::Executor,
                    until: self.executor_wait_until,
                });
                return false;
            }
        }
        true
    }

    /// Moves open breakers whose reset time has passed to half-open, now: the host calls
    /// it when `breaker_due` comes, so that the state and its event do not wait for
    /// traffic.
    pub fn observe_breakers(&mut self) {
        let now = self.now();
        self.tick_breakers(now);
    }

    /// When the next open breaker turns half-open (ms), if one is open. Apart from
    /// `next_due`: it must not keep the host's process alive.
    pub fn breaker_due(&self) -> Option<u64> {
        self.breakers
            .iter()
            .flatten()
            .filter(|b| b.state() == BreakerState::Open)
            .filter_map(|b| b.snapshot().next_try_at)
            .min()
    }

    /// Moves open breakers whose time is up to half-open.
    fn tick_breakers(&mut self, now: u64) {
        for def in 0..self.breakers.len() {
            let t = self.breakers[def].as_mut().and_then(|b| b.tick(now));
            self.note_breaker(def as u32, t);
        }
    }

    /// Fails every ready task of `def` without running it: its breaker is open and
    /// refuses (`onOpen: 'fail'`). No retry: the breaker said no, not the task.
    fn reject_ready(&mut self, def: u32, now: u64) {
        while let Some(slot) = self.store.take_ready(def) {
            if let Some(d) = &mut self.durable {
                d.started_one(def);
            }
            if let Some(b) = &mut self.breakers[def as usize] {
                b.reject();
            }
            let name = self.registry.get(def).name.clone();
            let r = self.store.get_mut(slot).expect("slot exists");
            r.state = r
                .state
                .transition(TaskState::Failure, &r.id)
                .expect("ready tasks may be refused");
            r.completed_at = now;
            let mut err = TaskError::new(
                "CircuitOpenError",
                format!("the circuit breaker of task '{name}' is open"),
            );
            err.non_retryable = true;
            r.extra_mut().error = Some(err);
            self.metrics.ended_unrun(def, RunEnd::Failed);
            self.finalize(slot, now);
        }
    }

    fn note_breaker(&mut self, def: u32, t: Option<Transition>) {
        if let Some((from, to)) = t {
            self.metrics.breaker_transition(def);
            self.events.push(Event::Breaker { def, from, to });
        }
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
        let Some(r) = self.store.get_mut(slot) else {
            return;
        };
        if r.state != TaskState::Started {
            return; // a stale report (the run was already settled); nothing to do
        }
        let def = r.def;
        let trial = std::mem::take(&mut r.trial);
        let (completion, host_settles) = match completion {
            Completion::SuccessSettledByHost(text) => (Completion::Success(text), self.durable.is_none()),
            c => (c, false),
        };
        if self.breakers[def as usize].is_some() {
            // A cancelled run says nothing about the task's health.
            let (failed, counts) = match (&completion, r.cancel_requested) {
                (_, true) => (true, false),
                (Completion::Success(_), false) => (false, true),
                (Completion::Failure(e), false) => (true, !e.ignored_by_breaker),
                (Completion::SuccessSettledByHost(_), false) => unreachable!("normalized above"),
            };
            let t = self.breakers[def as usize]
                .as_mut()
                .expect("checked")
                .finish(now, trial, failed, counts);
            self.note_breaker(def, t);
        }
        let r = self.store.get_mut(slot).expect("slot exists");
        let run_ms = now.saturating_sub(r.started_at);
        let timed_out = matches!(&completion, Completion::Failure(e) if e.timeout);
        let next = if r.cancel_requested {
            if let Completion::Failure(e) = completion {
                r.extra_mut().error = Some(e);
            }
            TaskState::Revoked
        } else {
            match completion {
                Completion::Success(result) => {
                    r.result = Some(result);
                    if host_settles {
                        r.watched = false;
                    }
                    TaskState::Success
                }
                Completion::SuccessSettledByHost(_) => unreachable!("normalized above"),
                Completion::Failure(error) => {
                    let policy = self.registry.retry_policy(def);
                    let decision = policy.decide(r.attempt, error.non_retryable, &mut self.rng);
                    r.extra_mut().error = Some(error);
                    match decision {
                        Some(delay) => {
                            self.metrics.finished(def, RunEnd::Retried, run_ms, timed_out);
                            let r = self.store.get_mut(slot).expect("slot exists");
                            r.state = TaskState::Retry;
                            self.release_running(def);
                            if self.durable.is_some() {
                                self.durable_retry(slot, now + delay);
                            } else {
                                self.store.requeue(slot, now + delay, now);
                            }
                            self.note_state(slot, TaskState::Retry);
                            return;
                        }
                        None => TaskState::Failure,
                    }
                }
            }
        };
        let end = match next {
            TaskState::Success => RunEnd::Completed,
            TaskState::Revoked => RunEnd::Cancelled,
            _ => RunEnd::Failed,
        };
        self.metrics.finished(def, end, run_ms, timed_out);
        let r = self.store.get_mut(slot).expect("slot exists");
        r.state = r
            .state
            .transition(next, &r.id)
            .expect("STARTED may end this way");
        r.completed_at = now;
        self.release_running(def);
        self.finalize(slot, now);
    }

    /// A task reached a final state here: settle it now, or — with a durable store — once
    /// its outcome is committed.
    fn finalize(&mut self, slot: u32, now: u64) {
        if self.durable.is_some() {
            self.durable_finish(slot);
        } else {
            self.settle(slot, now);
        }
    }

    fn release_running(&mut self, def: u32) {
        self.running[def as usize] -= 1;
        self.running_total -= 1;
    }

    /// A task reached a final state: tell its watchers, then apply retention.
    fn settle(&mut self, slot: u32, now: u64) {
        let r = self.store.get(slot).expect("slot exists");
        let (state, watched, group) = (r.state, r.watched, self.def_group[r.def as usize]);
        self.note_state(slot, state);
        if watched {
            self.events.push(Event::Settled { slot });
        }
        self.store.finished(slot, group);
        if self.events.is_empty() {
            // Events refer to slots: evict only once the host has read them.
            self.evict(now);
        }
    }

    fn evict(&mut self, now: u64) {
        if self.durable.is_some() {
            // The file keeps finished tasks; memory only until their events are out.
            self.durable_evict(now);
            return;
        }
        self.store.evict(now, &self.retention);
    }

    /// The retention of a definition's finished tasks: (count, max age ms).
    pub fn retention_of(&self, def: u32) -> (usize, Option<u64>) {
        self.retention[self.def_group[def as usize]]
    }

    // ---- cancel, watch, control --------------------------------------------------------

    pub fn cancel(&mut self, id: &str) -> Result<CancelOutcome> {
        let now = self.now();
        let slot = match self.local_slot(id)? {
            Some(slot) => slot,
            None => return self.durable_cancel(id, now),
        };
        let r = self.store.get_mut(slot).expect("slot exists");
        match r.state {
            TaskState::Pending | TaskState::Retry => {
                r.state = r.state.transition(TaskState::Revoked, &r.id)?;
                r.completed_at = now;
                let def = r.def;
                self.metrics.ended_unrun(def, RunEnd::Cancelled);
                if let Some(d) = &mut self.durable {
                    d.started_one(def); // it leaves this process's line
                }
                self.finalize(slot, now);
                Ok(CancelOutcome::Revoked)
            }
            TaskState::Received | TaskState::Started => {
                r.cancel_requested = true;
                Ok(CancelOutcome::AbortRunning(slot))
            }
            s => Ok(CancelOutcome::AlreadyFinal(s)),
        }
    }

    /// Asks for a `Settled` event when the task finishes. Returns its info (JSON) when
    /// it has finished already; then no event follows.
    pub fn watch(&mut self, id: &str) -> Result<Option<String>> {
        self.watch_task(id, false)
    }

    /// `watch_task`, saying where the outcome will come from: a task held here settles
    /// with an event naming its slot (the host keys its waiters by slot, not by id).
    pub fn watch_where(&mut self, id: &str, submitted: bool) -> Result<Watch> {
        let Some(slot) = self.local_slot(id)? else {
            let found = if submitted {
                self.durable_watch_submitted(id)?
            } else {
                self.durable_watch(id)?
            };
            return Ok(found.map_or(Watch::Elsewhere, Watch::Final));
        };
        let r = self.store.get_mut(slot).expect("slot exists");
        if r.state.is_final() && !r.committing {
            return Ok(Watch::Final(self.slot_outcome_json(slot)));
        }
        r.watched = true;
        // With a durable store a task held here may still leave (a retry, a claim given
        // back): its outcome may then come by id, so it is watched by id.
        if self.durable.is_some() {
            return Ok(Watch::Elsewhere);
        }
        Ok(Watch::Here(slot))
    }

    /// `watch_where` for many tasks at once, so that a million `result()` calls cost a
    /// few crossings, not a million: `ids` are concatenated (36 characters each, each
    /// batch of handles sent once) and `positions` pick the id of each watch among them.
    /// The answer is a JSON array with, per position, its slot (>= 0, held here), -1
    /// (held elsewhere), its result text as a JSON string (succeeded, memory store), its
    /// outcome object (finished otherwise), or `{"code","message"}`.
    pub fn watch_many(&mut self, ids: &str, positions: &[u32], submitted: bool) -> String {
        let mut out = String::with_capacity(positions.len() * 4 + 2);
        out.push('[');
        for (i, &p) in positions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let at = p as usize * 36;
            let id = ids.get(at..at + 36).unwrap_or("");
            if let Some(text) = self.memory_success_text(id) {
                // A success needs no outcome object: its result text alone (a JSON string).
                push_json_str(&mut out, text);
                continue;
            }
            match self.watch_where(id, submitted) {
                Ok(Watch::Here(slot)) => {
                    let _ = write!(out, "{slot}");
                }
                Ok(Watch::Elsewhere) => out.push_str("-1"),
                Ok(Watch::Final(outcome)) => out.push_str(&outcome),
                Err(e) => {
                    let _ = write!(out, "{{\"code\":\"{}\",\"message\":", e.code());
                    push_json_str(&mut out, &e.to_string());
                    out.push('}');
                }
            }
        }
        out.push(']');
        out
    }

    /// The result text of a task that succeeded in the memory store.
    fn memory_success_text(&self, id: &str) -> Option<&str> {
        if self.durable.is_some() {
            return None;
        }
        let slot = self.store.slot_of(&parse_task_id(id).ok()?)?;
        let r = self.store.get(slot)?;
        (r.state == TaskState::Success).then(|| r.result.as_deref()).flatten()
    }

    /// `watch`, for a task this process submitted (`submitted`): with a durable store
    /// it is looked up with the next poll, in one read with every other such task,
    /// instead of at once.
    pub fn watch_task(&mut self, id: &str, submitted: bool) -> Result<Option<String>> {
        Ok(match self.watch_where(id, submitted)? {
            Watch::Final(outcome) => Some(outcome),
            Watch::Here(_) | Watch::Elsewhere => None,
        })
    }

    /// The running task in `slot`, if it is still running (controls sent after the
    /// handler returned are dropped).
    fn running_record(&mut self, slot: u32) -> Option<&mut Record> {
        self.store
            .get_mut(slot)
            .filter(|r| r.state == TaskState::Started)
    }

    pub fn set_progress(&mut self, slot: u32, percent: f64, message: Option<String>) -> Result<()> {
        if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
            return Err(EngineError::invalid(format!(
                "progress must be a number from 0 to 100, got {percent}"
            )));
        }
        if let Some(r) = self.running_record(slot) {
            let (id, def) = (r.id, r.def);
            let x = r.extra_mut();
            x.progress = Some(percent);
            x.progress_message = message.clone();
            self.log_task_event(|e| {
                serde_json::json!(["progress", id.to_string(), e.registry.get(def).name, percent, message])
            });
            self.durable_send(|| crate::store::protocol::Op::Progress {
                id,
                percent,
                message,
            });
        }
        Ok(())
    }

    pub fn set_status(&mut self, slot: u32, status: String) {
        if let Some(r) = self.running_record(slot) {
            let (id, def) = (r.id, r.def);
            r.extra_mut().status = Some(status.clone());
            self.log_task_event(|e| {
                serde_json::json!(["status", id.to_string(), e.registry.get(def).name, status])
            });
            self.durable_send(|| crate::store::protocol::Op::Status {
                id,
                status,
            });
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
            logs.push(LogEntry {
                time: now,
                level: level.to_string(),
                message: message.clone(),
            });
            let (id, def) = (r.id, r.def);
            self.log_task_event(|e| {
                serde_json::json!(["log", id.to_string(), e.registry.get(def).name, level, message, now])
            });
            self.durable_send(|| crate::store::protocol::Op::Log {
                id,
                time: now,
                level: level.to_string(),
                message,
            });
        }
        Ok(())
    }

    // ---- queries ---------------------------------------------------------------------

    /// The slot of a task this process holds in memory: every task with the memory
    /// store, the claimed ones with a durable store. NotFound for an unknown id in memory.
    fn local_slot(&self, id: &str) -> Result<Option<u32>> {
        let parsed: TaskId = parse_task_id(id)?;
        match &self.durable {
            Some(d) => Ok(d.slot_of(&parsed)),
            None => self
                .store
                .slot_of(&parsed)
                .map(Some)
                .ok_or_else(|| EngineError::NotFound(id.to_string())),
        }
    }

    pub fn state(&self, id: &str) -> Result<TaskState> {
        match self.local_slot(id)? {
            Some(slot) => Ok(self.store.get(slot).expect("slot exists").state),
            None => self.durable_state(id),
        }
    }

    pub fn info_json(&self, id: &str) -> Result<String> {
        match self.local_slot(id)? {
            Some(slot) => Ok(self.slot_info_json(slot)),
            None => self.durable_info(id),
        }
    }

    /// Full info of the task in `slot` as JSON (see `TaskInfoView`).
    /// What settles a `result()`: `{ id, name, state, result, error, retries }` (the
    /// result as its JSON text). Written directly, without the rest of the info (payload,
    /// logs, times): this runs once per awaited task.
    /// What this process counted per definition: outcomes, rate-limited waits, breaker
    /// transitions, wait and run time histograms.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// `metrics()` as JSON: per definition name, its queue, counters, running now and
    /// histograms (bucket bounds in seconds, counts per bucket, sum, p50/p95/p99).
    /// An open breaker whose reset time has passed reads as half-open (its transition is
    /// taken first), with or without tasks waiting.
    pub fn metrics_json(&mut self) -> String {
        use crate::metrics::{DefMetrics, Histogram, BUCKETS_SECONDS};
        self.observe_breakers();
        fn hist(h: &Histogram) -> serde_json::Value {
            serde_json::json!({
                "buckets": BUCKETS_SECONDS, "counts": h.counts, "count": h.count, "sum": h.sum,
                "p50": h.quantile(0.5), "p95": h.quantile(0.95), "p99": h.quantile(0.99),
            })
        }
        let empty = DefMetrics::default();
        let mut tasks = serde_json::Map::new();
        for def in 0..self.registry.len() as u32 {
            let d = self.registry.get(def);
            let m = self.metrics.defs.get(def as usize).unwrap_or(&empty);
            let breaker = self.breakers[def as usize].as_ref().map(|b| b.state().as_str());
            tasks.insert(
                d.name.to_string(),
                serde_json::json!({
                    "queue": self.queue_names[self.def_queue[def as usize] as usize],
                    "completed": m.completed, "failed": m.failed, "retried": m.retried,
                    "cancelled": m.cancelled, "timedOut": m.timed_out, "rateLimited": m.rate_limited,
                    "breakerTransitions": m.breaker_transitions, "breaker": breaker,
                    "running": self.running[def as usize],
                    "waitSeconds": hist(&m.wait), "runSeconds": hist(&m.run),
                }),
            );
        }
        serde_json::Value::Object(tasks).to_string()
    }

    /// The id of the task held in `slot`, if any.
    pub fn slot_id(&self, slot: u32) -> Option<String> {
        self.store.get(slot).map(|r| r.id.to_string())
    }

    /// The `traceparent` the task in `slot` was submitted with (tracing), if any.
    pub fn slot_trace(&self, slot: u32) -> Option<String> {
        self.store
            .get(slot)
            .and_then(|r| r.extra.as_ref())
            .and_then(|x| x.trace.clone())
    }

    pub fn slot_outcome_json(&self, slot: u32) -> String {
        let r = self.store.get(slot).expect("slot exists");
        let d = self.registry.get(r.def);
        let retries = if r.state == TaskState::Retry {
            r.attempt
        } else {
            r.attempt.saturating_sub(1)
        };
        let mut out = String::with_capacity(96 + r.result.as_ref().map_or(0, |t| t.len()));
        let _ = write!(out, "{{\"id\":\"{}\",\"name\":", r.id);
        push_json_str(&mut out, &d.name);
        let _ = write!(out, ",\"state\":\"{}\",\"result\":", r.state.as_str());
        match r.result.as_deref() {
            Some(text) => push_json_str(&mut out, text),
            None => out.push_str("null"),
        }
        out.push_str(",\"error\":");
        match r.extra.as_deref().and_then(|x| x.error.as_ref()) {
            Some(e) => out.push_str(&serde_json::to_string(e).expect("an error serializes")),
            None => out.push_str("null"),
        }
        let _ = write!(out, ",\"retries\":{retries}}}");
        out
    }

    pub fn slot_info_json(&self, slot: u32) -> String {
        let r = self.store.get(slot).expect("slot exists");
        let d = self.registry.get(r.def);
        let x = r.extra.as_deref();
        let retries = if r.state == TaskState::Retry {
            r.attempt
        } else {
            r.attempt.saturating_sub(1)
        };
        let waiting = self.waiting_reason(r);
        let view = TaskInfoView {
            id: r.id.to_string(),
            name: &d.name,
            queue: &d.queue,
            state: r.state,
            payload: &r.payload,
            result: r.result.as_deref(),
            error: x.and_then(|x| x.error.as_ref()),
            attempt: r.attempt,
            retries,
            priority: r.priority,
            progress: x.and_then(|x| x.progress),
            progress_message: x.and_then(|x| x.progress_message.as_deref()),
            status: waiting.as_deref().or(x.and_then(|x| x.status.as_deref())),
            logs: x.map(|x| &x.logs[..]).unwrap_or(&[]),
            key: x.and_then(|x| x.key.as_deref()),
            created_at: r.created_at,
            run_at: (r.run_at > 0).then_some(r.run_at),
            started_at: (r.started_at > 0).then_some(r.started_at),
            completed_at: (r.completed_at > 0).then_some(r.completed_at),
            worker_id: (r.attempt > 0).then_some(self.worker_id.as_str()),
            breaker: self.breakers[r.def as usize]
                .as_ref()
                .map(|b| b.snapshot())
                .map(|s| BreakerBrief {
                    state: s.state,
                    failures: s.failures,
                }),
        };
        serde_json::to_string(&view).expect("task info serializes")
    }

    /// Why a ready task is not running, if a policy holds it back (shown as its status).
    fn waiting_reason(&self, r: &Record) -> Option<String> {
        self.waiting_reason_of(r.def, r.state, r.run_at)
    }

    /// `waiting_reason` for a task of definition `def` in `state`, due at `run_at`.
    fn waiting_reason_of(&self, def: u32, state: TaskState, run_at: u64) -> Option<String> {
        if !matches!(state, TaskState::Pending | TaskState::Retry) {
            return None;
        }
        let now = self.now();
        if run_at > now {
            return None; // delayed: not ready yet
        }
        let d = def as usize;
        let name = &self.registry.get(def).name;
        let within = |ms: u64| format!("in {} ms", ms.saturating_sub(now));
        if self.def_wait_until[d] > now {
            return Some(format!(
                "waiting: rate limit of task '{name}' (next start {})",
                within(self.def_wait_until[d])
            ));
        }
        let q = self.def_queue[d] as usize;
        if self.queue_wait_until[q] > now {
            let queue = &self.queue_names[q];
            return Some(format!(
                "waiting: rate limit of queue '{queue}' (next start {})",
                within(self.queue_wait_until[q])
            ));
        }
        if self.executor_wait_until > now {
            return Some(format!(
                "waiting: rate limit of the executor (next start {})",
                within(self.executor_wait_until)
            ));
        }
        if let Some(b) = &self.breakers[d] {
            let s = b.snapshot();
            match s.state {
                BreakerState::Open => {
                    return Some(format!(
                        "waiting: circuit breaker of task '{name}' is open (half-open {})",
                        within(s.next_try_at.unwrap_or(now))
                    ))
                }
                BreakerState::HalfOpen => {
                    return Some(format!("waiting: circuit breaker of task '{name}' is half-open, trial runs in progress"))
                }
                BreakerState::Closed => {}
            }
        }
        if let Some(max) = self.registry.get(def).max_parallel {
            if self.running[d] >= max {
                return Some(format!(
                    "waiting: maxParallel ({max}) of task '{name}' reached"
                ));
            }
        }
        None
    }

    /// The breaker of task `name` as JSON, or None when it has none. An open breaker whose
    /// reset time has passed is half-open: the transition (and its event) is taken now,
    /// whether or not a task of that name is waiting.
    pub fn breaker_json(&mut self, name: &str) -> Result<Option<String>> {
        let def = self.registry.index_of(name)?;
        self.observe_breakers();
        Ok(self.breakers[def as usize]
            .as_ref()
            .map(|b| serde_json::to_string(&b.snapshot()).expect("snapshot serializes")))
    }

    /// Direct runs (`ex.run`) ask the task's breaker and rate limits too: `Ok(trial)` to
    /// run now, `Err(Some(ms))` to try again at that time, `Err(None)` when the breaker
    /// refuses (open with `onOpen: 'fail'`).
    pub fn direct_acquire(&mut self, def: u32) -> std::result::Result<bool, Option<u64>> {
        let now = self.now();
        let mut trial = false;
        if let Some(b) = &mut self.breakers[def as usize] {
            let (permit, t) = b.permit(now);
            if permit == Permit::Reject {
                b.reject();
            }
            self.note_breaker(def, t);
            match permit {
                Permit::Run { trial: t } => trial = t,
                Permit::Wait(until) => return Err(Some(until.unwrap_or(now + 1))),
                Permit::Reject => return Err(None),
            }
        }
        if let Some(w) = self.rate_waits(def).into_iter().filter(|w| *w > now).min() {
            return Err(Some(w));
        }
        if !self.take_cells(def, now) {
            return Err(Some(
                self.rate_waits(def).into_iter().max().unwrap_or(now + 1),
            ));
        }
        if let Some(b) = &mut self.breakers[def as usize] {
            b.start(trial);
        }
        Ok(trial)
    }

    /// Until when each rate limit that applies to `def` holds it back: its own, its
    /// queue's, the executor's.
    fn rate_waits(&self, def: u32) -> [u64; 3] {
        let d = def as usize;
        [
            self.def_wait_until[d],
            self.queue_wait_until[self.def_queue[d] as usize],
            self.executor_wait_until,
        ]
    }

    /// A direct run ended: tell its breaker.
    pub fn direct_finish(&mut self, def: u32, trial: bool, failed: bool, counts: bool) {
        let now = self.now();
        if let Some(b) = &mut self.breakers[def as usize] {
            let t = b.finish(now, trial, failed, counts);
            self.note_breaker(def, t);
        }
    }

    // ---- events, timing, lifecycle -------------------------------------------------------

    pub fn set_state_events(&mut self, on: bool) {
        self.state_events = on;
    }

    /// Whether the host wants progress, status and log events of tasks running in other
    /// processes (a store that can deliver them, Redis, then subscribes to them).
    pub fn set_remote_events(&mut self, on: bool) {
        if let Some(d) = &self.durable {
            d.store.set_remote_events(on);
        }
    }

    /// Appends the pending events as JSON entries to `out` and clears them:
    /// `["settled",<task info>]` or `["state","id","name","STATE"]`.
    pub fn drain_events(&mut self, out: &mut String) -> usize {
        self.flush_event_log();
        let events = std::mem::take(&mut self.events);
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match *e {
                Event::Settled { slot } => {
                    // The memory store: a success is `["ok", slot, "<result text>"]`,
                    // anything else `["done", slot, {outcome}]`; a durable store:
                    // `["settled", {outcome}]`, by id (see `slot_outcome_json`).
                    let r = self.store.get(slot).expect("slot exists");
                    match (r.state, r.result.as_deref()) {
                        _ if self.durable.is_some() => {
                            // Watched by id there (see `watch_where`).
                            out.push_str("[\"settled\",");
                            out.push_str(&self.slot_outcome_json(slot));
                            out.push(']');
                        }
                        (TaskState::Success, Some(text)) => {
                            let _ = write!(out, "[\"ok\",{slot},");
                            push_json_str(out, text);
                            out.push(']');
                        }
                        _ => {
                            let _ = write!(out, "[\"done\",{slot},");
                            out.push_str(&self.slot_outcome_json(slot));
                            out.push(']');
                        }
                    }
                }
                Event::StateOf { id, def, state } => {
                    let d = self.registry.get(def);
                    let _ = write!(out, "[\"state\",\"{id}\",");
                    push_json_str(out, &d.name);
                    out.push(',');
                    push_json_str(out, &d.queue);
                    let _ = write!(out, ",\"{}\",0,null,null]", state.as_str());
                }
                Event::SettledInfo(ref info) => {
                    out.push_str("[\"settled\",");
                    out.push_str(info);
                    out.push(']');
                }
                Event::Abort { slot } => {
                    let _ = write!(out, "[\"abort\",{slot}]");
                }
                Event::StoreFault(ref message) => {
                    out.push_str("[\"storeError\",");
                    push_json_str(out, message);
                    out.push(']');
                }
                Event::DefinitionConflict(ref message) => {
                    out.push_str("[\"conflict\",");
                    push_json_str(out, message);
                    out.push(']');
                }
                Event::Remote(ref events) => {
                    out.push_str("[\"remote\",");
                    out.push_str(events);
                    out.push(']');
                }
                Event::Committed {
                    ticket,
                    ref outcome,
                } => {
                    let _ = write!(out, "[\"committed\",{ticket},");
                    match outcome {
                        Ok(None) => out.push_str("null,null]"),
                        Ok(Some(id)) => {
                            out.push_str("null,");
                            push_json_str(out, id);
                            out.push(']');
                        }
                        Err(e) => {
                            push_json_str(out, e);
                            out.push_str(",null]");
                        }
                    }
                }
                Event::State { slot, state } => self.state_doc(slot, state, out),
                Event::StateDoc(ref doc) => out.push_str(doc),
                Event::Breaker { def, from, to } => {
                    out.push_str("[\"breaker\",");
                    push_json_str(out, &self.registry.get(def).name);
                    let _ = write!(out, ",\"{}\",\"{}\"]", from.as_str(), to.as_str());
                }
                Event::RateLimited { scope, until } => {
                    let (kind, name) = match scope {
                        LimitScope::Task(d) => ("task", self.registry.get(d).name.as_str()),
                        LimitScope::Queue(q) => ("queue", self.queue_names[q as usize].as_str()),
                        LimitScope::Executor => ("executor", ""),
                    };
                    let _ = write!(out, "[\"rateLimited\",\"{kind}\",");
                    push_json_str(out, name);
                    let _ = write!(out, ",{until}]");
                }
            }
        }
        let now = self.now();
        self.evict(now);
        events.len()
    }

    /// When something that waits may run next (ms since the epoch): the next delayed
    /// task or retry, or the end of a rate-limit wait or an open breaker that holds ready
    /// tasks back. Waits that only a finishing task can end (`maxParallel`, half-open
    /// trials, a full executor) need no time: the finish itself prompts the next claim.
    pub fn next_due(&mut self) -> Option<u64> {
        let now = self.now();
        self.next_due_at(now)
    }

    /// `next_due` as seen at `now` (see `claim_at`).
    pub fn next_due_at(&mut self, now: u64) -> Option<u64> {
        let durable_due = self.durable_next_due(now);
        if !self.cfg.worker {
            return durable_due;
        }
        let mut due = self.store.next_due();
        if let Some(t) = durable_due {
            due = Some(due.map_or(t, |d| d.min(t)));
        }
        let mut earliest = |t: u64| {
            if t > now {
                due = Some(due.map_or(t, |d| d.min(t)));
            }
        };
        let mut any_ready = false;
        // Tasks waiting in a durable store count as ready: this process claims them only
        // once its policies let them run, so their waits need a timer as well.
        let stored = self.durable.as_ref().is_some_and(|d| d.store.has_work());
        for i in 0..self.worked_defs.len() {
            let d = self.worked_defs[i] as usize;
            if !stored && !self.store.has_ready(d as u32) {
                continue;
            }
            any_ready = true;
            earliest(self.def_wait_until[d]);
            earliest(self.queue_wait_until[self.def_queue[d] as usize]);
            if let Some(b) = &self.breakers[d] {
                if b.state() == BreakerState::Open && b.config().on_open == OnOpen::Wait {
                    earliest(b.snapshot().next_try_at.unwrap_or(0));
                }
            }
        }
        if any_ready {
            earliest(self.executor_wait_until);
        }
        due
    }

    /// Tasks not finished yet (queued, delayed, waiting to retry or running).
    pub fn unfinished(&self) -> usize {
        self.store.live_count() + self.durable_unfinished()
    }

    pub fn running(&self) -> usize {
        self.running_total
    }

    /// Stops claiming and registering; queries keep working.
    pub fn close(&mut self) {
        self.closed = true;
        self.durable_close();
    }
}

impl Engine {
    /// For direct runs (`ex.run`), which retry without the store: `Some(delay)` to retry
    /// after failed attempt number `attempt`, `None` to give up.
    pub fn retry_decision(&mut self, def: u32, attempt: u32, non_retryable: bool) -> Option<u64> {
        self.registry
            .retry_policy(def)
            .decide(attempt, non_retryable, &mut self.rng)
    }
}

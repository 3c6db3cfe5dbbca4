//! The Node binding: `NativeExecutor` translates JS strings and numbers to engine calls
//! and back. It decides nothing; everything that decides lives in `taskloom-engine`.
//!
//! Batches cross the boundary as single strings (see `taskloom_engine::wire`), so the
//! cost of a crossing is paid once per batch, never once per task.
#![deny(clippy::all)]

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use taskloom_engine::engine::EngineConfig;
use taskloom_engine::wire::{parse_completions, split_payloads};
use taskloom_engine::{CancelOutcome, Engine, EngineError, SubmitOptions, TaskDef};

/// An engine error as a JS error whose `code` tells the JS layer which class to throw.
/// A params error carries its issues as JSON (`{ message, task, issues }`) for the JS
/// layer to build its `ParamsError` from.
fn js_error(e: EngineError) -> Error<String> {
    let message = match &e {
        EngineError::InvalidParams { task, issues } => serde_json::json!({
            "message": e.to_string(), "task": task, "issues": issues,
        })
        .to_string(),
        _ => e.to_string(),
    };
    Error::new(e.code().to_string(), message)
}

#[napi]
pub struct NativeExecutor {
    engine: Engine,
}

#[napi]
impl NativeExecutor {
    /// `config` is the executor options as JSON (functions and JS-only keys removed).
    #[napi(constructor)]
    pub fn new(config: String) -> Result<Self, String> {
        let cfg = EngineConfig::from_json(&config).map_err(js_error)?;
        Ok(NativeExecutor {
            engine: Engine::open(cfg).map_err(js_error)?,
        })
    }

    /// Whether tasks live in a durable store: then every submit is followed by a
    /// `committed` event for its ticket (`lastTicket`).
    #[napi(getter)]
    pub fn durable(&self) -> bool {
        self.engine.is_durable()
    }

    /// `wake()` is called (from the store's writer thread, through a weak threadsafe
    /// function) when the store has news; the JS layer then runs a `cycle`.
    #[napi]
    pub fn set_waker(&mut self, wake: ThreadsafeFunction<(), (), (), Status, false, true>) {
        self.engine.set_waker(Box::new(move || {
            wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }));
    }

    /// A ticket whose `committed` event says that everything this process sent to its
    /// durable store so far is committed, or -1 (memory store, or closed).
    #[napi]
    pub fn request_flush(&mut self) -> f64 {
        self.engine.request_flush().map_or(-1.0, |t| t as f64)
    }

    /// The ticket of the last submit (durable stores), or -1.
    #[napi]
    pub fn take_ticket(&mut self) -> f64 {
        self.engine.take_ticket().map_or(-1.0, |t| t as f64)
    }

    /// A page of tasks as JSON (`{ tasks, cursor }`).
    #[napi]
    pub fn list(&self, query: String) -> Result<String, String> {
        self.engine.list_json(&query).map_err(js_error)
    }

    /// Tasks per state, in total and per queue, as JSON.
    #[napi]
    pub fn counts(&self) -> Result<String, String> {
        self.engine.counts_json().map_err(js_error)
    }

    #[napi(getter)]
    pub fn concurrency(&self) -> u32 {
        self.engine.config().concurrency
    }

    #[napi(getter)]
    pub fn worker(&self) -> bool {
        self.engine.config().worker
    }

    #[napi(getter)]
    pub fn worker_id(&self) -> String {
        self.engine.worker_id().to_string()
    }

    /// Registers a task; returns its definition as JSON, with `index`.
    #[napi]
    pub fn register(&mut self, name: String, options: String) -> Result<String, String> {
        let def = TaskDef::from_json(&name, &options).map_err(js_error)?;
        let idx = self.engine.register(def).map_err(js_error)?;
        let mut info: serde_json::Value =
            serde_json::from_str(&self.engine.def_json(idx)).expect("valid json");
        info["index"] = idx.into();
        Ok(info.to_string())
    }

    /// The registered definition with this index, as JSON.
    #[napi]
    pub fn definition(&self, index: u32) -> Result<String, String> {
        if index as usize >= self.engine.registry().len() {
            return Err(js_error(EngineError::invalid(format!(
                "no task definition #{index}"
            ))));
        }
        Ok(self.engine.def_json(index))
    }

    /// Definitions carrying every tag in `tags`, as a JSON array (on a durable store,
    /// with those other workers published).
    #[napi]
    pub fn tasks(&self, tags: Vec<String>) -> Result<String, String> {
        self.engine.defs_json(&tags).map_err(js_error)
    }

    /// Pauses (`true`) or resumes a queue; whether that changed anything.
    #[napi]
    pub fn set_queue_paused(&mut self, queue: String, paused: bool) -> Result<bool, String> {
        self.engine.set_queue_paused(&queue, paused).map_err(js_error)
    }

    /// `ex.retry(id)`: a FAILURE or REVOKED task waits to run again.
    #[napi]
    pub fn retry_task(&mut self, id: String) -> Result<(), String> {
        self.engine.retry_task(&id).map_err(js_error)
    }

    /// `ex.remove(id)`: deletes a finished task and its logs.
    #[napi]
    pub fn remove_task(&mut self, id: String) -> Result<(), String> {
        self.engine.remove_task(&id).map_err(js_error)
    }

    /// `ex.clean(filter)` (JSON): how many finished tasks it deleted.
    #[napi]
    pub fn clean(&mut self, filter: String) -> Result<f64, String> {
        self.engine.clean_tasks(&filter).map(|n| n as f64).map_err(js_error)
    }

    /// `ex.drain(queue)`: `[deleted, [[slot, id] awaited here…]]` as JSON.
    #[napi]
    pub fn drain(&mut self, queue: String) -> Result<String, String> {
        let (n, slots) = self.engine.drain_queue(&queue).map_err(js_error)?;
        Ok(serde_json::json!([n, slots]).to_string())
    }

    /// Every queue with its counts and paused flag, as JSON.
    #[napi]
    pub fn queues(&self) -> Result<String, String> {
        self.engine.queues_json().map_err(js_error)
    }

    /// The definition of `name` as `info(name)` shows it (JSON), or null.
    #[napi]
    pub fn definition_info(&self, name: String) -> Result<Option<String>, String> {
        self.engine.def_info_json(&name).map_err(js_error)
    }

    /// The definition index to submit `name` under, with its queue: `[index, queue]` as
    /// JSON. On a durable store a name registered nowhere here is taken from the store's
    /// shared registry (a producer submitting by name).
    #[napi]
    pub fn remote_definition(&mut self, name: String) -> Result<String, String> {
        let idx = self.engine.remote_def(&name).map_err(js_error)?;
        let queue = &self.engine.registry().get(idx).queue;
        Ok(serde_json::json!([idx, queue]).to_string())
    }

    /// Enqueues one task per '\n'-separated JSON payload; returns the ids concatenated
    /// (36 characters each).
    #[napi]
    pub fn submit(
        &mut self,
        def: u32,
        payloads: String,
        options: String,
    ) -> Result<String, String> {
        if def as usize >= self.engine.registry().len() {
            return Err(js_error(EngineError::invalid(format!(
                "no task definition #{def}"
            ))));
        }
        let opts = SubmitOptions::from_json(&options, self.engine.now()).map_err(js_error)?;
        let payloads: Vec<&str> = split_payloads(&payloads).collect();
        let ids = self.engine.submit(def, payloads, &opts).map_err(js_error)?;
        let mut out = String::with_capacity(ids.len() * 36);
        let mut buf = uuid::Uuid::encode_buffer();
        for id in ids {
            out.push_str(id.hyphenated().encode_lower(&mut buf));
        }
        Ok(out)
    }

    /// One dispatch step: records `completions` (lines of `<slot>S<json>` /
    /// `<slot>F<error json>`), claims tasks filling up to `capacity` slots (a task takes
    /// its definition's `size`) and returns
    /// `[[slot,"id",def,attempt,payload, …],[events…],nextDueMs|null]` as JSON (five
    /// values per claimed task), or null when there is nothing.
    #[napi]
    pub fn cycle(&mut self, completions: String, capacity: u32) -> Result<Option<String>, String> {
        if !completions.is_empty() {
            self.engine
                .complete_many(parse_completions(&completions).map_err(js_error)?);
        }
        // One clock reading for the whole step (see `Engine::claim_at`).
        let now = self.engine.now();
        let mut out = String::from("[[");
        let claimed = self.engine.claim_at(now, capacity as usize, &mut out);
        out.push_str("],[");
        let events = self.engine.drain_events(&mut out);
        out.push_str("],");
        let due = self.engine.next_due_at(now);
        if claimed == 0 && events == 0 && due.is_none() {
            return Ok(None);
        }
        match due {
            Some(ms) => out.push_str(&ms.to_string()),
            None => out.push_str("null"),
        }
        out.push(']');
        Ok(Some(out))
    }

    /// -1: revoked before it ran; -2: already finished; -3: running in another
    /// process, which will abort it; n >= 0: running in slot n (the JS layer aborts its
    /// signal).
    #[napi]
    pub fn cancel(&mut self, id: String) -> Result<i32, String> {
        Ok(match self.engine.cancel(&id).map_err(js_error)? {
            CancelOutcome::Revoked => -1,
            CancelOutcome::AlreadyFinal(_) => -2,
            CancelOutcome::AbortRunning(slot) => slot as i32,
            CancelOutcome::Requested => -3,
        })
    }

    /// Watches a task for `result()`: the outcome JSON when the task has
    /// finished; its slot (>= 0) when it is held here (an `ok` / `done` event names the
    /// slot); -1 when it is held elsewhere (a `settled` event carries its info).
    /// `submitted`: this executor submitted the task (it exists), so a durable store
    /// looks it up with the next poll, batched, instead of at once.
    #[napi]
    pub fn watch_where(&mut self, id: String, submitted: bool) -> Result<Either<i32, String>, String> {
        use taskloom_engine::engine::Watch;
        Ok(match self.engine.watch_where(&id, submitted).map_err(js_error)? {
            Watch::Final(json) => Either::B(json),
            Watch::Here(slot) => Either::A(slot as i32),
            Watch::Elsewhere => Either::A(-1),
        })
    }

    /// `watchWhere` for many tasks at once: `ids` concatenated (36 characters each),
    /// `positions` the id of each watch among them. A JSON array with, per position,
    /// its slot, -1, its outcome, or `{code, message}`.
    #[napi]
    pub fn watch_many(&mut self, ids: String, positions: Uint32Array, submitted: bool) -> String {
        self.engine.watch_many(&ids, &positions, submitted)
    }

    /// What this process counted per task name, as JSON (see `Engine::metrics_json`).
    #[napi]
    pub fn metrics(&mut self) -> String {
        self.engine.metrics_json()
    }

    /// The W3C `traceparent` the task in `slot` was submitted with, or null.
    #[napi]
    pub fn slot_trace(&self, slot: u32) -> Option<String> {
        self.engine.slot_trace(slot)
    }

    /// The id of the task in `slot` (for messages about a waiter kept by slot).
    #[napi]
    pub fn slot_id(&self, slot: u32) -> Result<String, String> {
        self.engine
            .slot_id(slot)
            .ok_or_else(|| js_error(EngineError::invalid(format!("no task in slot {slot}"))))
    }

    #[napi]
    pub fn state(&self, id: String) -> Result<String, String> {
        Ok(self
            .engine
            .state(&id)
            .map_err(js_error)?
            .as_str()
            .to_string())
    }

    #[napi]
    pub fn info(&self, id: String) -> Result<String, String> {
        self.engine.info_json(&id).map_err(js_error)
    }

    #[napi]
    pub fn progress(
        &mut self,
        slot: u32,
        percent: f64,
        message: Option<String>,
    ) -> Result<(), String> {
        self.engine
            .set_progress(slot, percent, message)
            .map_err(js_error)
    }

    #[napi]
    pub fn status(&mut self, slot: u32, message: String) {
        self.engine.set_status(slot, message)
    }

    #[napi]
    pub fn log(&mut self, slot: u32, level: String, message: String) -> Result<(), String> {
        self.engine.log(slot, &level, message).map_err(js_error)
    }

    /// Retry decision for direct runs: the delay in ms, or -1 for no retry.
    #[napi]
    pub fn retry_delay(&mut self, def: u32, attempt: u32, non_retryable: bool) -> i64 {
        match self.engine.retry_decision(def, attempt, non_retryable) {
            Some(ms) => ms as i64,
            None => -1,
        }
    }

    /// The task's circuit breaker as JSON, or null when it has none.
    #[napi]
    pub fn breaker(&mut self, name: String) -> Result<Option<String>, String> {
        self.engine.breaker_json(&name).map_err(js_error)
    }

    /// When the next open breaker turns half-open (ms since the epoch), or null. The host
    /// keeps a timer for it that does not hold the process open, and then calls
    /// `observe_breakers` (the transition and its event, with no task waiting).
    #[napi(getter)]
    pub fn breaker_due(&self) -> Option<f64> {
        self.engine.breaker_due().map(|ms| ms as f64)
    }

    /// Takes the half-open transitions of breakers whose reset time has passed.
    #[napi]
    pub fn observe_breakers(&mut self) {
        self.engine.observe_breakers();
    }

    /// Before a direct run: -1 run, -2 run as a half-open trial, -3 refused (breaker
    /// open, `onOpen: 'fail'`), otherwise the time (ms) to ask again.
    #[napi]
    pub fn direct_acquire(&mut self, def: u32) -> f64 {
        match self.engine.direct_acquire(def) {
            Ok(false) => -1.0,
            Ok(true) => -2.0,
            Err(None) => -3.0,
            Err(Some(at)) => at as f64,
        }
    }

    /// After a direct run: tells the task's breaker how it went.
    #[napi]
    pub fn direct_finish(&mut self, def: u32, trial: bool, failed: bool, counts: bool) {
        self.engine.direct_finish(def, trial, failed, counts)
    }

    #[napi]
    pub fn set_state_events(&mut self, on: bool) {
        self.engine.set_state_events(on)
    }

    /// Progress, status and log events of tasks running in other processes (Redis).
    #[napi]
    pub fn set_remote_events(&mut self, on: bool) {
        self.engine.set_remote_events(on)
    }

    /// Tasks not finished yet, and how many of them are running.
    #[napi(getter)]
    pub fn unfinished(&self) -> u32 {
        self.engine.unfinished() as u32
    }

    #[napi(getter)]
    pub fn running(&self) -> u32 {
        self.engine.running() as u32
    }

    #[napi]
    pub fn close(&mut self) {
        self.engine.close()
    }

    /// Checks a workflow spec against the registry; its members as JSON.
    #[napi]
    pub fn workflow_members(&self, spec: String, id: Option<String>) -> Result<String, String> {
        self.engine
            .workflow_members(&spec, id.as_deref())
            .map_err(js_error)
    }

    /// A workflow coordinator's next step as JSON (see `taskloom_engine::workflow`).
    #[napi]
    pub fn workflow_plan(
        &self,
        id: String,
        spec: String,
        outcomes: String,
    ) -> Result<String, String> {
        self.engine
            .workflow_plan(&id, &spec, &outcomes)
            .map_err(js_error)
    }

    /// Whether a workflow member gets a previous result (`ctx.previous`).
    #[napi]
    pub fn workflow_member_has_previous(&self, spec: String, member: u32) -> Result<bool, String> {
        self.engine
            .workflow_member_has_previous(&spec, member as usize)
            .map_err(js_error)
    }

    /// The id of the task holding an idempotency key, or null.
    #[napi]
    pub fn id_by_key(&self, key: String) -> Result<Option<String>, String> {
        self.engine.id_by_key(&key).map_err(js_error)
    }

    /// Declares a cron schedule (options as JSON); its info as JSON.
    #[napi]
    pub fn schedule(&mut self, spec: String) -> Result<String, String> {
        self.engine.schedule(&spec).map_err(js_error)
    }

    /// Every schedule's info as a JSON array.
    #[napi]
    pub fn schedules(&self) -> Result<String, String> {
        self.engine.schedules_json().map_err(js_error)
    }

    #[napi]
    pub fn set_schedule_paused(&mut self, id: String, paused: bool) -> Result<String, String> {
        self.engine
            .set_schedule_paused(&id, paused)
            .map_err(js_error)
    }

    #[napi]
    pub fn remove_schedule(&mut self, id: String) -> Result<bool, String> {
        self.engine.remove_schedule(&id).map_err(js_error)
    }

    /// Submits the schedule ticks that came due; the next tick (ms) of the schedules
    /// this executor runs, or -1 when it runs none.
    #[napi]
    pub fn fire_schedules(&mut self) -> Result<f64, String> {
        self.engine
            .fire_schedules()
            .map(|t| t.map_or(-1.0, |t| t as f64))
            .map_err(js_error)
    }

    /// Saves an artifact (data as JSON text) of a stored task; its id.
    #[napi]
    pub fn save_artifact(&mut self, task: String, data: String, tags: Vec<String>) -> Result<String, String> {
        self.engine.save_artifact(&task, &data, &tags).map_err(js_error)
    }

    /// The artifacts of a task as a JSON array, oldest first.
    #[napi]
    pub fn artifacts(&self, task: String) -> Result<String, String> {
        self.engine.artifacts_json(&task).map_err(js_error)
    }

    /// One artifact by id as JSON, or null.
    #[napi]
    pub fn artifact(&self, id: String) -> Result<Option<String>, String> {
        self.engine.artifact_json(&id).map_err(js_error)
    }

    /// Checks a payload (JSON text) against a definition's params, as a submit would.
    #[napi]
    pub fn check_payload(&self, def: u32, payload: String) -> Result<(), String> {
        self.engine.check_payload(def, &payload).map_err(js_error)
    }

    /// A fresh time-ordered id (for direct runs, which have no stored task).
    #[napi]
    pub fn new_id(&self) -> String {
        uuid_v7()
    }
}

fn uuid_v7() -> String {
    taskloom_engine::task::new_task_id().to_string()
}

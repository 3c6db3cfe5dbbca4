//! The store conformance suite: the same scenarios against the memory store and the
//! SQLite store, driven the way the host drives them (a claim is a request the SQLite
//! writer answers; `flush` waits for the writer where the host would wait for a wake-up).
//! Then what only a durable store promises: reopening, leases, several workers, bad files.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::redis_server::RedisServer;
use common::{result_of, Claimed, T0};
use serde_json::Value;
use taskloom_engine::engine::EngineConfig;
use taskloom_engine::{
    CancelOutcome, Completion, Engine, ManualClock, SubmitOptions, TaskDef, TaskError, TaskState,
};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Memory,
    Sqlite,
    Redis,
}

/// Where a durable store's tasks live: several engines opened on one place are several
/// processes sharing a store.
#[derive(Clone)]
enum Place {
    /// The file, and its directory (kept while an engine uses it).
    File(PathBuf, #[allow(dead_code)] Arc<tempfile::TempDir>),
    Redis(Arc<RedisServer>, String),
}

struct Harness {
    e: Engine,
    clock: ManualClock,
    place: Option<Place>,
}

fn open(kind: Kind, cfg: &str) -> Harness {
    let place = match kind {
        Kind::Memory => {
            let (e, clock) = common::engine(cfg);
            return Harness {
                e,
                clock,
                place: None,
            };
        }
        Kind::Sqlite => {
            let dir = Arc::new(tempfile::tempdir().unwrap());
            Place::File(dir.path().join("tasks.db"), dir)
        }
        Kind::Redis => Place::Redis(
            Arc::new(RedisServer::start()),
            format!("test-{}", uuid::Uuid::now_v7().simple()),
        ),
    };
    open_at(&place, cfg, ManualClock::new(T0))
}

/// An engine on the durable store at `place` (another worker, or a restart).
fn open_at(place: &Place, cfg: &str, clock: ManualClock) -> Harness {
    let mut v: Value = if cfg.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(cfg).unwrap()
    };
    match place {
        Place::File(path, _) => v["store"] = format!("sqlite:{}", path.display()).into(),
        Place::Redis(server, ns) => {
            v["store"] = server.url().into();
            v["namespace"] = ns.clone().into();
        }
    }
    let cfg = EngineConfig::from_json(&v.to_string()).unwrap();
    let e = Engine::open_with_clock(cfg, Arc::new(clock.clone())).unwrap();
    Harness {
        e,
        clock,
        place: Some(place.clone()),
    }
}

/// Every scenario on SQLite ends with the file's kept counts (`task_counts`, what
/// `counts()` reads) equal to the tasks it holds: the writer counts its own changes with
/// the count triggers off on its connection, and a change it missed would show here.
impl Drop for Harness {
    fn drop(&mut self) {
        let Some(Place::File(path, _)) = &self.place else {
            return;
        };
        if std::thread::panicking() {
            return;
        }
        let conn = rusqlite::Connection::open(path).unwrap();
        let rows = |sql: &str| -> Vec<(String, i64, i64)> {
            let mut st = conn.prepare(sql).unwrap();
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        };
        // One snapshot for both reads.
        conn.execute_batch("BEGIN").unwrap();
        let kept = rows("SELECT queue, state, n FROM task_counts WHERE n <> 0 ORDER BY 1, 2");
        let real = rows("SELECT queue, state, count(*) FROM tasks GROUP BY 1, 2 ORDER BY 1, 2");
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(kept, real, "task_counts against the tasks in {}", path.display());
    }
}

fn fail(msg: &str) -> Completion {
    Completion::Failure(TaskError::new("Error", msg))
}

impl Harness {
    fn register(&mut self, name: &str, opts: &str) -> u32 {
        self.e
            .register(TaskDef::from_json(name, opts).unwrap())
            .unwrap()
    }

    /// Submits one task and waits for the store; returns its id (the first task's id
    /// when an idempotency key matched).
    fn submit(&mut self, def: u32, payload: &str, opts: &str) -> String {
        let now = self.e.now();
        let o = SubmitOptions::from_json(opts, now).unwrap();
        let id = self.e.submit(def, [payload], &o).unwrap()[0].to_string();
        self.e.flush();
        for ev in self.drain() {
            if ev[0] == "committed" && ev[3].is_string() {
                return ev[3].as_str().unwrap().to_string();
            }
        }
        id
    }

    fn drain(&mut self) -> Vec<Value> {
        common::events(&mut self.e)
    }

    /// Claims tasks filling up to `n` slots, as the host's dispatch step does (twice
    /// with a durable store: once to ask, once to take what the writer claimed).
    fn claim(&mut self, n: usize) -> Vec<Claimed> {
        let mut got = common::claim(&mut self.e, n);
        if self.e.is_durable() {
            self.e.flush();
            let registry = self.e.registry();
            let used: usize = got.iter().map(|c| registry.get(c.def).size as usize).sum();
            got.extend(common::claim(&mut self.e, n - used));
        }
        got
    }

    fn complete(&mut self, slot: u32, c: Completion) {
        self.e.complete(slot, c);
        self.e.flush();
        common::claim(&mut self.e, 0);
    }

    /// Events but the store's commit acknowledgements.
    fn events(&mut self) -> Vec<Value> {
        self.e.flush();
        common::claim(&mut self.e, 0);
        self.drain()
            .into_iter()
            .filter(|e| e[0] != "committed")
            .collect()
    }

    fn state(&self, id: &str) -> TaskState {
        self.e.state(id).unwrap()
    }

    fn info(&self, id: &str) -> Value {
        serde_json::from_str(&self.e.info_json(id).unwrap()).unwrap()
    }

    fn advance(&mut self, ms: u64) {
        self.clock.advance(ms);
    }
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $name() { super::$name(super::Kind::Memory) } )*
        }
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Kind::Sqlite) } )*
        }
        mod redis {
            $( #[test] fn $name() { super::$name(super::Kind::Redis) } )*
        }
    };
}

/// What only a durable store promises, on each durable store.
macro_rules! on_durable_stores {
    ($($name:ident),* $(,)?) => {
        mod durable_sqlite {
            $( #[test] fn $name() { super::$name(super::Kind::Sqlite) } )*
        }
        mod durable_redis {
            $( #[test] fn $name() { super::$name(super::Kind::Redis) } )*
        }
    };
}

on_durable_stores!(
    reopening_continues_every_unfinished_task_and_keeps_outcomes,
    a_task_whose_worker_died_runs_again_after_its_lease_and_the_late_outcome_is_ignored,
    a_task_lost_twice_with_no_attempts_left_fails,
    two_workers_never_claim_the_same_task,
    a_cancel_from_another_process_reaches_the_running_worker,
    two_workers_submit_each_schedule_tick_once_and_share_pause_and_removal,
    after_downtime_missed_ticks_run_once_or_are_skipped,
);

on_both_stores!(
    schedules_submit_each_due_tick_once_and_catch_up_once,
    priority_then_fifo,
    delayed_tasks_wait_until_due,
    retries_back_off_then_fail,
    cancel_pending_revokes_without_running,
    cancel_running_revokes_when_the_handler_returns,
    idempotency_keys_return_the_first_task,
    watchers_hear_the_outcome,
    max_parallel_holds_a_name_back,
    sizes_fill_the_slots_in_line_order,
    progress_status_and_logs_are_recorded,
    list_pages_and_counts_per_state_and_queue,
    unknown_ids_are_not_found,
    batch_payloads_round_trip_exactly,
    retention_per_task_overrides_the_executors,
    artifacts_are_kept_with_their_task_and_go_with_it,
    params_refuse_a_batch_before_anything_is_stored,
    counts_match_the_tasks_through_every_kind_of_change,
    a_retry_requeued_before_its_events_are_read_still_reports_them,
    tasks_drained_cleaned_or_removed_before_their_events_are_read_still_report_them,
    a_higher_priority_submitted_while_busy_runs_before_tasks_claimed_ahead,
);

fn priority_then_fifo(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    for (p, prio) in [(1, 0), (2, 5), (3, 0), (4, 5), (5, -1)] {
        h.submit(d, &p.to_string(), &format!(r#"{{"priority":{prio}}}"#));
    }
    let order: Vec<i64> = h
        .claim(10)
        .into_iter()
        .map(|c| c.payload.as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![2, 4, 1, 3, 5]);
}

fn delayed_tasks_wait_until_due(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    let later = h.submit(d, "\"later\"", r#"{"delayMs":500}"#);
    h.submit(d, "\"at\"", &format!(r#"{{"runAt":{}}}"#, T0 + 200));
    h.submit(d, "\"now\"", "");
    assert_eq!(h.claim(10).len(), 1);
    assert_eq!(h.state(&later), TaskState::Pending);
    assert_eq!(h.info(&later)["runAt"], T0 + 500);
    h.advance(199);
    assert!(h.claim(10).is_empty());
    h.advance(1);
    assert_eq!(h.claim(10)[0].payload, "at");
    h.advance(300);
    assert_eq!(h.claim(10)[0].payload, "later");
}

fn retries_back_off_then_fail(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register(
        "t",
        r#"{"retry":{"maxRetries":2,"delayMs":100,"backoff":"fixed"}}"#,
    );
    let id = h.submit(d, "1", "");
    for attempt in 1..=3 {
        let c = h.claim(10);
        assert_eq!(c.len(), 1, "attempt {attempt} runs");
        assert_eq!(c[0].attempt, attempt);
        h.complete(c[0].slot, fail(&format!("fail {attempt}")));
        if attempt < 3 {
            assert_eq!(h.state(&id), TaskState::Retry);
            assert_eq!(h.info(&id)["error"]["message"], format!("fail {attempt}"));
            assert!(h.claim(10).is_empty(), "not before its backoff");
            h.advance(100);
        }
    }
    assert_eq!(h.state(&id), TaskState::Failure);
    let info = h.info(&id);
    assert_eq!(info["retries"], 2);
    assert_eq!(info["error"]["message"], "fail 3");
}

fn cancel_pending_revokes_without_running(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    let id = h.submit(d, "1", "");
    assert_eq!(h.e.cancel(&id).unwrap(), CancelOutcome::Revoked);
    assert!(h.claim(10).is_empty());
    assert_eq!(h.state(&id), TaskState::Revoked);
    assert_eq!(
        h.e.cancel(&id).unwrap(),
        CancelOutcome::AlreadyFinal(TaskState::Revoked)
    );
}

fn cancel_running_revokes_when_the_handler_returns(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    let id = h.submit(d, "1", "");
    let c = h.claim(1);
    assert_eq!(
        h.e.cancel(&id).unwrap(),
        CancelOutcome::AbortRunning(c[0].slot)
    );
    h.complete(c[0].slot, Completion::Success("1".into()));
    assert_eq!(h.state(&id), TaskState::Revoked);
}

fn idempotency_keys_return_the_first_task(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    let a = h.submit(d, "1", r#"{"key":"order-7"}"#);
    let b = h.submit(d, "2", r#"{"key":"order-7"}"#);
    assert_eq!(a, b);
    assert_eq!(h.claim(10).len(), 1);
}

fn watchers_hear_the_outcome(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    let id = h.submit(d, "1", "");
    assert!(
        h.e.watch(&id).unwrap().is_none(),
        "not finished: an event follows"
    );
    let c = h.claim(1);
    h.complete(c[0].slot, Completion::Success("{\"ok\":true}".into()));
    let settled: Vec<Value> = h
        .events()
        .into_iter()
        .filter(|e| e[0] == "ok" || e[0] == "settled")
        .collect();
    assert_eq!(settled.len(), 1);
    let result: Value = if settled[0][0] == "ok" {
        // The memory store settles a success by its slot, with the result text.
        assert_eq!(settled[0][1].as_u64(), Some(c[0].slot as u64));
        serde_json::from_str(settled[0][2].as_str().expect("a JSON text")).unwrap()
    } else {
        // Durable stores settle by id (a task may leave this process before it ends).
        assert_eq!(settled[0][1]["id"], id.as_str());
        assert_eq!(settled[0][1]["state"], "SUCCESS");
        result_of(&settled[0][1])
    };
    assert_eq!(result["ok"], true);
    let done: Value = serde_json::from_str(&h.e.watch(&id).unwrap().expect("final now")).unwrap();
    assert_eq!(result_of(&done)["ok"], true);
}

fn max_parallel_holds_a_name_back(kind: Kind) {
    let mut h = open(kind, "");
    let capped = h.register("capped", r#"{"maxParallel":2}"#);
    let free = h.register("free", "");
    for i in 0..4 {
        h.submit(capped, &i.to_string(), "");
    }
    h.submit(free, "\"f\"", "");
    let first = h.claim(10);
    assert_eq!(first.iter().filter(|c| c.def == capped).count(), 2);
    assert_eq!(first.iter().filter(|c| c.def == free).count(), 1);
    h.complete(first[0].slot, Completion::Success("null".into()));
    let next = h.claim(10);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].payload, 2, "FIFO within the name");
}

/// A task takes its size in slots of the capacity; one too big for the slots left waits
/// first in line, and smaller ones behind it do not overtake it.
fn sizes_fill_the_slots_in_line_order(kind: Kind) {
    let mut h = open(kind, r#"{"concurrency":4}"#);
    let big = h.register("big", r#"{"size":"large"}"#);
    let small = h.register("small", r#"{"size":1}"#);
    h.submit(big, "0", "");
    for i in 1..=4 {
        h.submit(small, &i.to_string(), "");
    }
    let first = h.claim(4);
    assert_eq!(first.len(), 1, "the large task fills all four slots");
    assert_eq!(first[0].def, big);
    h.complete(first[0].slot, Completion::Success("null".into()));
    let smalls = h.claim(4);
    assert_eq!(smalls.iter().map(|c| c.payload.clone()).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // One small slot frees: the next large task may not start, nor the small one behind it.
    h.complete(smalls[0].slot, Completion::Success("null".into()));
    h.submit(big, "5", "");
    h.submit(small, "6", "");
    assert!(h.claim(1).is_empty(), "the large task waits first in line");
    for c in &smalls[1..] {
        h.complete(c.slot, Completion::Success("null".into()));
    }
    let next = h.claim(4);
    assert_eq!(next.iter().map(|c| c.payload.clone()).collect::<Vec<_>>(), [5]);
    h.complete(next[0].slot, Completion::Success("null".into()));
    assert_eq!(h.claim(4).iter().map(|c| c.payload.clone()).collect::<Vec<_>>(), [6]);
}

fn progress_status_and_logs_are_recorded(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    let id = h.submit(d, "1", "");
    let c = h.claim(1);
    h.e.set_progress(c[0].slot, 40.0, Some("reading".into()))
        .unwrap();
    h.e.set_status(c[0].slot, "busy".into());
    h.e.log(c[0].slot, "info", "hello".into()).unwrap();
    h.complete(c[0].slot, Completion::Success("2".into()));
    let info = h.info(&id);
    assert_eq!(info["progress"], 40.0);
    assert_eq!(info["progressMessage"], "reading");
    assert_eq!(info["status"], "busy");
    assert_eq!(info["logs"][0]["message"], "hello");
    assert_eq!(info["logs"][0]["level"], "info");
    assert_eq!(result_of(&info), 2);
}

fn list_pages_and_counts_per_state_and_queue(kind: Kind) {
    let mut h = open(kind, r#"{"concurrency":1}"#);
    let a = h.register("a", "");
    let b = h.register("b", r#"{"queue":"other"}"#);
    let ids: Vec<String> = (0..3).map(|i| h.submit(a, &i.to_string(), "")).collect();
    h.submit(b, "9", "");
    let c = h.claim(1);
    h.complete(c[0].slot, Completion::Success("0".into()));
    let counts: Value = serde_json::from_str(&h.e.counts_json().unwrap()).unwrap();
    // A durable store's worker may have claimed the next task ahead (RECEIVED).
    let waiting = |c: &Value| c["PENDING"].as_u64().unwrap() + c["RECEIVED"].as_u64().unwrap();
    assert_eq!(counts["total"]["SUCCESS"], 1);
    assert_eq!(waiting(&counts["total"]), 3);
    assert_eq!(counts["queues"]["other"]["PENDING"], 1);
    assert_eq!(waiting(&counts["queues"]["default"]), 2);
    let page: Value =
        serde_json::from_str(&h.e.list_json(r#"{"name":"a","limit":2}"#).unwrap()).unwrap();
    let got: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[0].as_str(), ids[1].as_str()]);
    let cursor = page["cursor"].as_str().expect("a next page");
    let rest: Value = serde_json::from_str(
        &h.e.list_json(&format!(r#"{{"name":"a","cursor":"{cursor}"}}"#))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rest["tasks"][0]["id"], ids[2].as_str());
    assert!(rest["cursor"].is_null());
    let pending: Value = serde_json::from_str(
        &h.e.list_json(r#"{"state":"PENDING","queue":"other"}"#)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(pending["tasks"].as_array().unwrap().len(), 1);
    // Newest first, paged the other way with the same kind of cursor.
    let newest: Value = serde_json::from_str(
        &h.e.list_json(r#"{"name":"a","limit":2,"order":"newest"}"#)
            .unwrap(),
    )
    .unwrap();
    let got: Vec<&str> = newest["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = newest["cursor"].as_str().expect("a next page");
    let rest: Value = serde_json::from_str(
        &h.e.list_json(&format!(
            r#"{{"name":"a","order":"newest","cursor":"{cursor}"}}"#
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(rest["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(rest["tasks"][0]["id"], ids[0].as_str());
    assert!(rest["cursor"].is_null());
    assert!(h
        .e
        .list_json(r#"{"order":"random"}"#)
        .unwrap_err()
        .to_string()
        .contains("random"));
    assert!(h
        .e
        .list_json(r#"{"limit":0}"#)
        .unwrap_err()
        .to_string()
        .contains("limit"));
    assert!(h
        .e
        .list_json(r#"{"state":"DONE"}"#)
        .unwrap_err()
        .to_string()
        .contains("DONE"));
}

fn unknown_ids_are_not_found(kind: Kind) {
    let mut h = open(kind, "");
    h.register("t", "");
    let id = "01900000-0000-7000-8000-000000000000";
    assert!(matches!(
        h.e.state(id),
        Err(taskloom_engine::EngineError::NotFound(_))
    ));
    assert!(matches!(
        h.e.cancel(id),
        Err(taskloom_engine::EngineError::NotFound(_))
    ));
    assert!(h
        .e
        .state("nope")
        .unwrap_err()
        .to_string()
        .contains("'nope'"));
}

// ---- what only the durable store promises -------------------------------------------

fn reopening_continues_every_unfinished_task_and_keeps_outcomes(kind: Kind) {
    let mut a = open(kind, "");
    let place = a.place.clone().unwrap();
    let d = a.register("t", r#"{"retry":{"maxRetries":1,"delayMs":1000}}"#);
    let done = a.submit(d, "\"done\"", "");
    let c = a.claim(1);
    a.e.log(c[0].slot, "info", "did it".into()).unwrap();
    a.complete(c[0].slot, Completion::Success("42".into()));
    let retrying = a.submit(d, "\"retry\"", "");
    let c = a.claim(1);
    a.complete(c[0].slot, fail("flaky"));
    let delayed = a.submit(d, "\"delayed\"", r#"{"delayMs":500}"#);
    let pending = a.submit(d, "\"pending\"", r#"{"priority":-1}"#);
    a.e.close();
    drop(a);

    let mut b = open_at(&place, "", ManualClock::new(T0));
    b.register("t", r#"{"retry":{"maxRetries":1,"delayMs":1000}}"#);
    let info = b.info(&done);
    assert_eq!(result_of(&info), 42);
    assert_eq!(info["logs"][0]["message"], "did it");
    assert_eq!(b.state(&retrying), TaskState::Retry);
    assert_eq!(b.state(&delayed), TaskState::Pending);
    assert_eq!(
        b.claim(10).iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![pending.clone()]
    );
    b.advance(500);
    assert_eq!(b.claim(10)[0].id, delayed);
    b.advance(500);
    let c = b.claim(10);
    assert_eq!(
        (c[0].id.as_str(), c[0].attempt),
        (retrying.as_str(), 2),
        "the retry, its attempts counted"
    );
}

fn a_task_whose_worker_died_runs_again_after_its_lease_and_the_late_outcome_is_ignored(kind: Kind) {
    let mut a = open(kind, r#"{"leaseMs":1000}"#);
    let place = a.place.clone().unwrap();
    let d = a.register("t", r#"{"retry":{"maxRetries":3}}"#);
    let id = a.submit(d, "1", "");
    let held = a.claim(1);
    assert_eq!(held.len(), 1);
    // Worker A stops renewing (its clock stands still, as if the process were gone);
    // worker B's clock runs past A's lease.
    let mut b = open_at(&place, r#"{"leaseMs":1000}"#, ManualClock::new(T0));
    b.register("t", r#"{"retry":{"maxRetries":3}}"#);
    assert!(b.claim(10).is_empty(), "A's lease holds");
    b.advance(1_001);
    let again = b.claim(10);
    assert_eq!(again.len(), 1, "recovered once A's lease expired");
    assert_eq!((again[0].id.as_str(), again[0].attempt), (id.as_str(), 2));
    b.complete(again[0].slot, Completion::Success("\"b\"".into()));
    a.complete(held[0].slot, Completion::Success("\"a\"".into()));
    assert_eq!(
        result_of(&b.info(&id)),
        "b",
        "A's late outcome does not overwrite B's"
    );
}

fn a_task_lost_twice_with_no_attempts_left_fails(kind: Kind) {
    // Concurrency 1: a worker "dead" on a stopped clock must not claim anything more.
    let lease = r#"{"leaseMs":1000,"concurrency":1}"#;
    let mut a = open(kind, lease);
    let place = a.place.clone().unwrap();
    let d = a.register("t", ""); // no retries
    let id = a.submit(d, "1", "");
    assert_eq!(a.claim(1).len(), 1);
    // A dies holding it. (Its writer thread stops: left running, it could claim the task
    // back once B recovers it — it asks for one task ahead.)
    a.e.close();
    // B recovers it once (a lost run is always run again), then dies as well.
    let mut b = open_at(&place, lease, ManualClock::new(T0 + 1_001));
    b.register("t", "");
    assert_eq!(b.claim(10).len(), 1);
    let mut c = open_at(&place, lease, ManualClock::new(T0 + 2_002));
    c.register("t", "");
    assert!(c.claim(10).is_empty());
    let info = c.info(&id);
    assert_eq!(info["state"], "FAILURE");
    assert_eq!(info["error"]["type"], "WorkerLostError");
}

fn two_workers_never_claim_the_same_task(kind: Kind) {
    let cfg = r#"{"concurrency":5}"#;
    let mut a = open(kind, cfg);
    let place = a.place.clone().unwrap();
    let d = a.register("t", "");
    let mut b = open_at(&place, cfg, a.clock.clone());
    b.register("t", "");
    let ids: Vec<String> = (0..40).map(|i| a.submit(d, &i.to_string(), "")).collect();
    let mut seen = std::collections::HashSet::new();
    let mut by_worker = [0, 0];
    for _ in 0..20 {
        for (w, h) in [&mut a, &mut b].into_iter().enumerate() {
            // Each claims what its capacity allows, finishing what it claimed last time.
            for c in h.claim(5) {
                assert!(seen.insert(c.id.clone()), "{} claimed twice", c.id);
                by_worker[w] += 1;
                h.complete(c.slot, Completion::Success("null".into()));
            }
        }
    }
    assert_eq!(seen.len(), 40);
    assert!(ids.iter().all(|id| seen.contains(id)));
    assert!(
        by_worker.iter().all(|n| *n > 0),
        "both took a share: {by_worker:?}"
    );
}

fn a_cancel_from_another_process_reaches_the_running_worker(kind: Kind) {
    let mut a = open(kind, "");
    let place = a.place.clone().unwrap();
    let d = a.register("t", "");
    let id = a.submit(d, "1", "");
    let c = a.claim(1);
    let mut b = open_at(&place, r#"{"worker":false}"#, a.clock.clone());
    assert_eq!(b.e.cancel(&id).unwrap(), CancelOutcome::Requested);
    // The request reaches A on its writer's next round (SQLite) or by notification
    // (Redis): within moments either way.
    let mut aborts: Vec<Value> = Vec::new();
    for _ in 0..200 {
        aborts.extend(a.events().into_iter().filter(|e| e[0] == "abort"));
        if !aborts.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(aborts.len(), 1);
    assert_eq!(aborts[0][1], c[0].slot);
    a.complete(c[0].slot, fail("aborted"));
    assert_eq!(b.state(&id), TaskState::Revoked);
}

fn store_error(path: &std::path::Path) -> String {
    let cfg = EngineConfig::from_json(
        &serde_json::json!({ "store": format!("sqlite:{}", path.display()) }).to_string(),
    )
    .unwrap();
    match Engine::open(cfg) {
        Ok(_) => panic!("opening {} should fail", path.display()),
        Err(e) => {
            assert_eq!(e.code(), "ERR_TASKLOOM_STORE");
            e.to_string()
        }
    }
}

#[test]
fn files_that_are_not_taskloom_databases_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are my notes, not a database\n".repeat(10)).unwrap();
    assert!(store_error(&text).contains("not a SQLite database"));
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "these are my notes, not a database\n".repeat(10)
    );

    let corrupt = dir.path().join("corrupt.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..8192u32).map(|i| (i * 7919 % 251) as u8));
    std::fs::write(&corrupt, &bytes).unwrap();
    let e = store_error(&corrupt);
    assert!(e.contains("corrupt") || e.contains("not a database"), "{e}");
    assert_eq!(std::fs::read(&corrupt).unwrap(), bytes);

    let foreign = dir.path().join("app.db");
    rusqlite_free_table(&foreign, "CREATE TABLE users (id INTEGER)");
    let before = std::fs::read(&foreign).unwrap();
    assert!(store_error(&foreign).contains("another application"));
    assert_eq!(std::fs::read(&foreign).unwrap(), before);

    let newer = dir.path().join("newer.db");
    rusqlite_free_table(
        &newer,
        "PRAGMA application_id = 1414287181; PRAGMA user_version = 99; CREATE TABLE tasks (x)",
    );
    let before = std::fs::read(&newer).unwrap();
    assert!(store_error(&newer).contains("schema version 99, newer"));
    assert_eq!(std::fs::read(&newer).unwrap(), before);

    assert!(store_error(&dir.path().join("missing/tasks.db")).contains("does not exist"));
    assert!(store_error(dir.path()).contains("directory"));
    assert!(store_error(std::path::Path::new("/proc/taskloom.db")).contains("cannot open"));
}

/// A file of schema 2 (before the shared registry and per-queue ready lines) is migrated
/// on open, and its waiting tasks are claimed in their queue.
#[test]
fn sqlite_schema_2_files_are_migrated_and_keep_their_tasks() {
    let mut a = open(Kind::Sqlite, "");
    let place = a.place.clone().unwrap();
    let d = a.register("t", r#"{"queue":"io"}"#);
    let first = a.submit(d, "1", "");
    let second = a.submit(d, "2", r#"{"priority":5}"#);
    a.e.close();
    drop(a);
    let Place::File(path, _) = &place else {
        unreachable!()
    };
    // Undo migrations 3 to 6, as a file written by that release would be.
    rusqlite_free_table(
        path,
        "DROP TABLE definitions; DROP TABLE paused_queues; DROP TABLE events; DROP TABLE listeners;
         ALTER TABLE tasks DROP COLUMN trace;
         DROP INDEX tasks_ready;
         CREATE INDEX tasks_ready ON tasks(name, priority DESC, seq) WHERE state IN (0, 5) AND due_at IS NULL;
         DROP TRIGGER tasks_artifacts_go; DROP TABLE artifacts;
         DROP TRIGGER tasks_count_in; DROP TRIGGER tasks_count_change; DROP TRIGGER tasks_count_out;
         DROP TABLE task_counts;
         ALTER TABLE workers DROP COLUMN host;
         PRAGMA user_version = 2;",
    );
    let mut b = open_at(&place, "", ManualClock::new(T0));
    // Migration 5 counted the tasks already there.
    let counts: Value = serde_json::from_str(&b.e.counts_json().unwrap()).unwrap();
    assert_eq!(counts["queues"]["io"]["PENDING"], 2);
    b.register("t", r#"{"queue":"io"}"#);
    let ids: Vec<String> = b.claim(10).into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![second, first]);
    // The shared registry works on the migrated file.
    let info: Value = serde_json::from_str(&b.e.def_info_json("t").unwrap().unwrap()).unwrap();
    assert_eq!(info["workers"].as_array().unwrap().len(), 1);
}

/// Makes a SQLite file with `sql` through the engine's own SQLite (no second library).
fn rusqlite_free_table(path: &std::path::Path, sql: &str) {
    taskloom_engine::store::sqlite::schema::execute_raw(path, sql).unwrap();
}

fn batch_payloads_round_trip_exactly(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", "");
    let payloads = [
        r#"{"quote":"a\"b","newline":"x\ny","tab":"\t","back":"\\"}"#,
        "\"ünïcødé 😀 \\u0001\"",
        "[1,2.5e-3,-0,null,true,false,{}]",
        "12345678901234567890",
    ];
    let now = h.e.now();
    h.e.submit(d, payloads, &SubmitOptions::from_json("", now).unwrap())
        .unwrap();
    h.e.flush();
    let got: Vec<serde_json::Value> = h.claim(10).into_iter().map(|c| c.payload).collect();
    let want: Vec<serde_json::Value> = payloads
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(got, want);
}

fn retention_per_task_overrides_the_executors(kind: Kind) {
    let mut h = open(kind, r#"{"keepResults":{"count":1}}"#);
    let plain = h.register("plain", "");
    let kept = h.register("kept", r#"{"keepResults":{"count":3}}"#);
    let info: Value = serde_json::from_str(&h.e.def_json(kept)).unwrap();
    assert_eq!(info["keepResults"]["count"], 3);
    for d in [plain, kept] {
        for i in 0..5 {
            h.submit(d, &i.to_string(), "");
        }
    }
    for _ in 0..10 {
        let c = h.claim(1);
        h.complete(c[0].slot, Completion::Success("null".into()));
    }
    h.advance(1_000); // the SQLite writer trims once a second
    h.e.flush();
    let count = |h: &Harness, name: &str| {
        let page: Value = serde_json::from_str(
            &h.e.list_json(&format!(r#"{{"name":"{name}","state":"SUCCESS"}}"#))
                .unwrap(),
        )
        .unwrap();
        page["tasks"].as_array().unwrap().len()
    };
    assert_eq!(count(&h, "plain"), 1, "the executor's keepResults");
    assert_eq!(count(&h, "kept"), 3, "the task's own keepResults");
}

fn artifacts_are_kept_with_their_task_and_go_with_it(kind: Kind) {
    let mut h = open(kind, r#"{"keepResults":{"count":1}}"#);
    let d = h.register("t", "");
    let first = h.submit(d, "1", "");
    let c = h.claim(1);
    let a1 =
        h.e.save_artifact(&first, r#"{"step":1}"#, &["partial".to_string()])
            .unwrap();
    let a2 = h.e.save_artifact(&first, "[2]", &[]).unwrap();
    assert_eq!(
        (a1.as_str(), a2.as_str()),
        (format!("{first}.1").as_str(), format!("{first}.2").as_str())
    );
    let list: Value = serde_json::from_str(&h.e.artifacts_json(&first).unwrap()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["data"], serde_json::json!({ "step": 1 }));
    assert_eq!(list[0]["tags"], serde_json::json!(["partial"]));
    assert_eq!(list[1]["taskId"], first.as_str());
    let one: Value = serde_json::from_str(&h.e.artifact_json(&a2).unwrap().unwrap()).unwrap();
    assert_eq!(one["data"], serde_json::json!([2]));
    assert_eq!(h.e.artifact_json(&format!("{first}.3")).unwrap(), None);
    assert!(h.e.artifact_json("nope").is_err());
    assert!(
        h.e.save_artifact("01890a5d-ac96-774b-bcce-b302099a8057", "1", &[])
            .is_err(),
        "no such task"
    );
    h.complete(c[0].slot, Completion::Success("null".into()));
    // A second finished task pushes the first out (keepResults 1): its artifacts go with it.
    let second = h.submit(d, "2", "");
    let c = h.claim(1);
    h.complete(c[0].slot, Completion::Success("null".into()));
    h.advance(1_000);
    h.e.flush();
    assert!(h.e.info_json(&first).is_err(), "the first task is trimmed");
    assert_eq!(h.e.artifacts_json(&first).unwrap(), "[]");
    assert!(h.e.info_json(&second).is_ok());
}

fn params_refuse_a_batch_before_anything_is_stored(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("add", r#"{"params":{"a":"integer","b":"integer"}}"#);
    let err =
        h.e.submit(
            d,
            [r#"{"a":1,"b":2}"#, r#"{"a":1}"#],
            &SubmitOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "ERR_TASKLOOM_PARAMS");
    assert!(
        err.to_string().contains(r#"/: "b" is a required property"#),
        "{err}"
    );
    h.e.flush();
    let counts: Value = serde_json::from_str(&h.e.counts_json().unwrap()).unwrap();
    assert_eq!(counts["total"]["PENDING"], 0, "nothing was stored");
    h.submit(d, r#"{"a":1,"b":2}"#, "");
    let c = h.claim(1);
    assert_eq!(c.len(), 1);
}

// ---- cron schedules ------------------------------------------------------------------

/// T0 is 2023-11-14T22:13:20Z: the next full hour is 23:00, 46 min 40 s later.
const TO_NEXT_HOUR: u64 = 2_800_000;
const HOUR: u64 = 3_600_000;

impl Harness {
    fn schedule(&mut self, spec: Value) -> Value {
        serde_json::from_str(&self.e.schedule(&spec.to_string()).unwrap()).unwrap()
    }

    fn schedules(&self) -> Value {
        serde_json::from_str(&self.e.schedules_json().unwrap()).unwrap()
    }

    fn pending(&self) -> u64 {
        let counts: Value = serde_json::from_str(&self.e.counts_json().unwrap()).unwrap();
        counts["total"]["PENDING"].as_u64().unwrap()
    }

    fn fire(&mut self) -> Option<u64> {
        let next = self.e.fire_schedules().unwrap();
        self.e.flush();
        next
    }
}

fn schedules_submit_each_due_tick_once_and_catch_up_once(kind: Kind) {
    let mut a = open(kind, "");
    a.register("hourly", "{}");
    let info = a.schedule(
        serde_json::json!({ "name": "hourly", "cron": "0 * * * *", "payload": "{\"n\":1}" }),
    );
    assert_eq!(info["id"], "hourly@0 * * * *");
    assert_eq!(info["nextRunAt"], T0 + TO_NEXT_HOUR);
    a.schedule(serde_json::json!({
        "name": "hourly", "cron": "30 * * * *", "payload": "2", "id": "skipper", "missed": "skip"
    }));
    // The skipper's 22:30 comes first.
    assert_eq!(a.fire(), Some(T0 + 1_000_000), "nothing due yet");
    assert_eq!(a.pending(), 0);

    // At 23:00 the hourly tick is due; the skipper's 22:30 is half an hour late: skipped.
    a.advance(TO_NEXT_HOUR);
    assert_eq!(a.fire(), Some(T0 + TO_NEXT_HOUR + HOUR / 2));
    assert_eq!(a.fire(), Some(T0 + TO_NEXT_HOUR + HOUR / 2));
    assert_eq!(
        a.pending(),
        1,
        "one task for the tick, however often it is looked at"
    );
    let c = a.claim(1);
    assert_eq!(c[0].payload, serde_json::json!({ "n": 1 }));
    assert_eq!(
        a.info(&c[0].id)["key"],
        format!("cron:hourly@0 * * * *:{}", T0 + TO_NEXT_HOUR)
    );
    a.complete(c[0].slot, Completion::Success("null".into()));

    // Three hours pass and a minute, with nobody looking (a stalled process).
    a.advance(3 * HOUR + 60_000);
    a.fire();
    let c = a.claim(10);
    assert_eq!(
        c.len(),
        1,
        "the hourly schedule catches up once; the skipper skips"
    );
    assert_eq!(
        a.info(&c[0].id)["key"],
        format!("cron:hourly@0 * * * *:{}", T0 + TO_NEXT_HOUR + 3 * HOUR)
    );
    let list = a.schedules();
    assert_eq!(list[0]["id"], "hourly@0 * * * *");
    assert_eq!(list[0]["nextRunAt"], T0 + TO_NEXT_HOUR + 4 * HOUR);
    assert_eq!(list[1]["id"], "skipper");
    assert_eq!(
        list[1]["nextRunAt"],
        T0 + TO_NEXT_HOUR + 3 * HOUR + HOUR / 2
    );
}

fn two_workers_submit_each_schedule_tick_once_and_share_pause_and_removal(kind: Kind) {
    let mut a = open(kind, "");
    let place = a.place.clone().unwrap();
    let mut b = open_at(&place, "", a.clock.clone());
    a.register("job", "{}");
    b.register("job", "{}");
    let spec =
        serde_json::json!({ "name": "job", "cron": "0 * * * *", "payload": "null", "id": "j" });
    a.schedule(spec.clone());
    a.advance(TO_NEXT_HOUR);
    a.fire();
    b.fire();
    a.fire();
    assert_eq!(a.pending(), 1, "the tick's task is stored once");

    // Declaring it again (a restart) keeps its next tick: no second task for a tick.
    b.schedule(spec.clone());
    assert_eq!(b.schedules()[0]["nextRunAt"], T0 + TO_NEXT_HOUR + HOUR);
    b.fire();
    assert_eq!(a.pending(), 1);

    // Paused by one worker: the other does not fire it.
    let paused: Value = serde_json::from_str(&a.e.set_schedule_paused("j", true).unwrap()).unwrap();
    assert_eq!(paused["paused"], true);
    a.advance(HOUR);
    b.fire();
    assert_eq!(b.pending(), 1);
    // Resumed: from the next tick on; the tick missed while paused does not run.
    b.e.set_schedule_paused("j", false).unwrap();
    b.fire();
    assert_eq!(b.pending(), 1);
    a.advance(HOUR);
    a.fire();
    b.fire();
    assert_eq!(b.pending(), 2);

    assert!(b.e.remove_schedule("j").unwrap());
    assert!(!a.e.remove_schedule("j").unwrap());
    assert_eq!(a.schedules(), serde_json::json!([]));
    a.advance(HOUR);
    assert_eq!(a.fire(), None);
    assert_eq!(a.pending(), 2);
}

fn after_downtime_missed_ticks_run_once_or_are_skipped(kind: Kind) {
    let mut a = open(kind, r#"{"worker":false}"#);
    let place = a.place.clone().unwrap();
    a.register("report", "{}");
    a.schedule(serde_json::json!({ "name": "report", "cron": "0 * * * *", "payload": "\"once\"" }));
    a.schedule(serde_json::json!({
        "name": "report", "cron": "0 * * * *", "payload": "\"skip\"", "id": "s", "missed": "skip"
    }));
    assert_eq!(
        a.e.fire_schedules().unwrap(),
        None,
        "a producer fires nothing"
    );
    a.e.close();
    drop(a);

    // Five hours and 10 s later a worker starts.
    let mut b = open_at(
        &place,
        "",
        ManualClock::new(T0 + TO_NEXT_HOUR + 5 * HOUR + 10_000),
    );
    b.register("report", "{}");
    b.fire();
    let c = b.claim(10);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].payload, serde_json::json!("once"));
    assert_eq!(b.schedules()[1]["nextRunAt"], T0 + TO_NEXT_HOUR + 6 * HOUR);
}

/// counts() against the tasks themselves (listed page by page) after submits, claims,
/// successes, failures, cancels, a retry, a remove, a clean and a drain: SQLite keeps its
/// counts by triggers, Redis in a hash, memory counts on demand; all must agree with the list.
fn counts_match_the_tasks_through_every_kind_of_change(kind: Kind) {
    let mut h = open(kind, r#"{"concurrency":4}"#);
    let a = h.register("a", "");
    let b = h.register("b", r#"{"queue":"other"}"#);
    let ids: Vec<String> = (0..8).map(|i| h.submit(a, &i.to_string(), "")).collect();
    let others: Vec<String> = (0..3).map(|i| h.submit(b, &i.to_string(), "")).collect();
    let check = |h: &Harness, when: &str| {
        let counts: Value = serde_json::from_str(&h.e.counts_json().unwrap()).unwrap();
        let mut listed: std::collections::BTreeMap<(String, String), u64> = Default::default();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                None => r#"{"limit":3}"#.to_string(),
                Some(c) => format!(r#"{{"limit":3,"cursor":"{c}"}}"#),
            };
            let page: Value = serde_json::from_str(&h.e.list_json(&q).unwrap()).unwrap();
            for t in page["tasks"].as_array().unwrap() {
                let key = (
                    t["queue"].as_str().unwrap().to_string(),
                    t["state"].as_str().unwrap().to_string(),
                );
                *listed.entry(key).or_default() += 1;
            }
            match page["cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        for (queue, states) in counts["queues"].as_object().unwrap() {
            for (state, n) in states.as_object().unwrap() {
                let want = listed
                    .get(&(queue.clone(), state.clone()))
                    .copied()
                    .unwrap_or(0);
                assert_eq!(n.as_u64().unwrap(), want, "{when}: {queue} {state}");
            }
        }
        let total: u64 = listed.values().sum();
        let counted: u64 = counts["total"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(counted, total, "{when}: total");
    };
    check(&h, "after submits");
    let c = h.claim(4);
    check(&h, "after claims");
    h.complete(c[0].slot, Completion::Success("1".into()));
    h.complete(c[1].slot, fail("no"));
    h.e.cancel(&ids[7]).unwrap();
    h.e.flush();
    check(&h, "after a success, a failure and a cancel");
    let failed = c[1].id.clone();
    h.e.retry_task(&failed).unwrap();
    h.e.flush();
    check(&h, "after a retry");
    h.e.remove_task(&c[0].id).unwrap();
    h.e.flush();
    check(&h, "after a remove");
    h.e.clean_tasks(r#"{"state":"REVOKED"}"#).unwrap();
    h.e.flush();
    check(&h, "after a clean");
    h.e.drain_queue("other").unwrap();
    h.e.flush();
    check(&h, "after a drain");
    assert!(
        others.iter().all(|id| h.e.state(id).is_err()),
        "drained tasks are gone"
    );
}

/// A failed run to be retried leaves memory when the store requeues it; its RETRY state
/// event may still be unread then. It is reported (it was read from the gone slot: a
/// panic, "slot exists", seen in CI on Redis).
fn a_retry_requeued_before_its_events_are_read_still_reports_them(kind: Kind) {
    let mut h = open(kind, "");
    let d = h.register("t", r#"{"retry":{"maxRetries":1,"delayMs":60000}}"#);
    h.e.set_state_events(true);
    let id = h.submit(d, "1", "");
    let c = h.claim(1);
    h.drain();
    // Fail, then let the store's reply (Requeued) arrive before the events are read.
    h.e.complete(c[0].slot, fail("once"));
    h.e.flush();
    common::claim(&mut h.e, 0);
    let states: Vec<String> = h
        .drain()
        .into_iter()
        .filter(|e| e[0] == "state" && e[1] == id.as_str())
        .map(|e| e[4].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, vec!["RETRY".to_string()]);
    assert_eq!(h.state(&id), TaskState::Retry);
}

/// A drain, clean or remove right after a state change (before the host read its event)
/// took the task's slot on the memory store, and reading the event then aborted the
/// process (a state listener, submits, then `ex.drain()` in the same tick).
fn tasks_drained_cleaned_or_removed_before_their_events_are_read_still_report_them(kind: Kind) {
    let mut h = open(kind, r#"{"concurrency":1}"#);
    let d = h.register("t", r#"{"queue":"q"}"#);
    h.e.set_state_events(true);
    let first = h.submit(d, "0", "");
    let c = h.claim(1);
    h.drain();
    // Submitted, and drained before anything read their PENDING events.
    let waiting: Vec<String> = (1..4).map(|i| common::submit(&mut h.e, d, &i.to_string(), "")).collect();
    h.e.drain_queue("q").unwrap();
    h.e.flush();
    let pending: Vec<String> = h
        .drain()
        .into_iter()
        .filter(|e| e[0] == "state" && e[4] == "PENDING")
        .map(|e| e[1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pending, waiting, "each drained task's PENDING was reported");
    h.e.complete(c[0].slot, Completion::Success("1".into()));
    h.e.flush();
    h.e.remove_task(&first).unwrap();
    h.e.flush();
    let done: Vec<Value> = h.drain().into_iter().filter(|e| e[0] == "state" && e[1] == first.as_str()).collect();
    assert_eq!(done.len(), 1, "its SUCCESS was reported: {done:?}");
    assert_eq!(done[0][4], "SUCCESS");
    h.submit(d, "9", "");
    // (A durable store's worker may have claimed a drained task ahead: it runs first.)
    let c = h.claim(1);
    h.e.complete(c[0].slot, Completion::Success("1".into()));
    h.e.flush();
    assert!(h.e.clean_tasks("{}").unwrap() >= 1);
    h.e.flush();
    let ran = c[0].id.clone();
    let states: Vec<Value> = h.drain().into_iter().filter(|e| e[0] == "state" && e[1] == ran.as_str()).collect();
    assert!(states.iter().any(|e| e[4] == "SUCCESS"), "{states:?}");
}

/// With the one slot busy, a task submitted first is claimed ahead on a durable store;
/// higher priorities submitted after it must still run first (the README's promise, and
/// the memory store's order): d(9) b(5) e(5) a(1) c(1).
fn a_higher_priority_submitted_while_busy_runs_before_tasks_claimed_ahead(kind: Kind) {
    let mut h = open(kind, r#"{"concurrency":1}"#);
    let d = h.register("t", "");
    h.submit(d, "\"long\"", "");
    let long = h.claim(1);
    assert_eq!(long.len(), 1);
    for (name, prio) in [("a", 1), ("b", 5), ("c", 1), ("d", 9), ("e", 5)] {
        h.submit(d, &format!("\"{name}\""), &format!(r#"{{"priority":{prio}}}"#));
        // Let the writer claim ahead, as it does while the slot is busy.
        h.e.flush();
        common::claim(&mut h.e, 0);
    }
    h.complete(long[0].slot, Completion::Success("null".into()));
    let mut order = Vec::new();
    for _ in 0..5 {
        let c = h.claim(1);
        assert_eq!(c.len(), 1, "a task is ready after {order:?}");
        order.push(c[0].payload.as_str().unwrap().to_string());
        h.complete(c[0].slot, Completion::Success("null".into()));
    }
    assert_eq!(order, vec!["d", "b", "e", "a", "c"]);
}

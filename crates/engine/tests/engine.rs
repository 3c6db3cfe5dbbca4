//! Engine behaviour through its public API, on a manual clock: deterministic and fast.

mod common;

use common::{claim, engine, register, submit, Claimed, T0};
use taskloom_engine::engine::EngineConfig;
use taskloom_engine::{CancelOutcome, Completion, SubmitOptions, TaskError, TaskState};

fn fail(msg: &str) -> Completion {
    Completion::Failure(TaskError::new("Error", msg))
}

#[test]
fn higher_priority_first_then_fifo() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    for (p, prio) in [(1, 0), (2, 5), (3, 0), (4, 5), (5, -1)] {
        submit(
            &mut e,
            d,
            &p.to_string(),
            &format!(r#"{{"priority":{prio}}}"#),
        );
    }
    let order: Vec<i64> = claim(&mut e, 10)
        .into_iter()
        .map(|c| c.payload.as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![2, 4, 1, 3, 5]);
}

#[test]
fn definition_priority_is_the_default() {
    let (mut e, _) = engine("");
    let low = register(&mut e, "low", "");
    let high = register(&mut e, "high", r#"{"priority":10}"#);
    submit(&mut e, low, "1", "");
    submit(&mut e, high, "2", "");
    let order: Vec<i64> = claim(&mut e, 10)
        .into_iter()
        .map(|c| c.payload.as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![2, 1]);
}

#[test]
fn delayed_tasks_wait_until_due() {
    let (mut e, clock) = engine("");
    let d = register(&mut e, "t", "");
    submit(&mut e, d, "\"later\"", r#"{"delayMs":500}"#);
    submit(&mut e, d, "\"at\"", &format!(r#"{{"runAt":{}}}"#, T0 + 200));
    submit(&mut e, d, "\"now\"", "");
    assert_eq!(claim(&mut e, 10).len(), 1);
    assert_eq!(e.next_due(), Some(T0 + 200));
    clock.advance(199);
    assert!(claim(&mut e, 10).is_empty());
    clock.advance(1);
    assert_eq!(claim(&mut e, 10)[0].payload, "at");
    assert_eq!(e.next_due(), Some(T0 + 500));
    clock.advance(300);
    assert_eq!(claim(&mut e, 10)[0].payload, "later");
    assert_eq!(e.next_due(), None);
}

#[test]
fn capacity_bounds_a_claim() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    let now = e.now();
    let payloads: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    e.submit(
        d,
        payloads.iter().map(|s| s.as_str()),
        &SubmitOptions::from_json("", now).unwrap(),
    )
    .unwrap();
    assert_eq!(claim(&mut e, 4).len(), 4);
    assert_eq!(e.running(), 4);
    assert_eq!(claim(&mut e, 100).len(), 6);
    assert_eq!(e.unfinished(), 10);
}

#[test]
fn retries_back_off_and_then_fail() {
    let (mut e, clock) = engine("");
    let d = register(
        &mut e,
        "t",
        r#"{"retry":{"maxRetries":2,"backoff":"exponential","delayMs":100}}"#,
    );
    let id = submit(&mut e, d, "null", "");
    let Claimed { slot, attempt, .. } = claim(&mut e, 1).remove(0);
    assert_eq!(attempt, 1);
    e.complete(slot, fail("first"));
    assert_eq!(e.state(&id).unwrap(), TaskState::Retry);
    assert_eq!(e.next_due(), Some(T0 + 100));
    clock.advance(99);
    assert!(claim(&mut e, 1).is_empty());
    clock.advance(1);
    let Claimed { slot, attempt, .. } = claim(&mut e, 1).remove(0);
    assert_eq!(attempt, 2);
    e.complete(slot, fail("second"));
    assert_eq!(
        e.next_due(),
        Some(T0 + 100 + 200),
        "exponential: 100 then 200"
    );
    clock.advance(200);
    let Claimed { slot, attempt, .. } = claim(&mut e, 1).remove(0);
    assert_eq!(attempt, 3);
    e.complete(slot, fail("third"));
    assert_eq!(e.state(&id).unwrap(), TaskState::Failure);
    let info: serde_json::Value = serde_json::from_str(&e.info_json(&id).unwrap()).unwrap();
    assert_eq!(info["retries"], 2);
    assert_eq!(info["error"]["message"], "third");
    assert_eq!(e.unfinished(), 0);
}

#[test]
fn non_retryable_errors_fail_at_once() {
    let (mut e, _) = engine(r#"{"retry":{"maxRetries":5,"delayMs":0}}"#);
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "null", "");
    let slot = claim(&mut e, 1).remove(0).slot;
    let mut err = TaskError::new("NonRetryableError", "bad input");
    err.non_retryable = true;
    e.complete(slot, Completion::Failure(err));
    assert_eq!(e.state(&id).unwrap(), TaskState::Failure);
}

#[test]
fn executor_retry_default_applies_and_zero_delay_retries_immediately() {
    let (mut e, _) = engine(r#"{"retry":{"maxRetries":1,"delayMs":0}}"#);
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "null", "");
    let slot = claim(&mut e, 1).remove(0).slot;
    e.complete(slot, fail("x"));
    let Claimed { slot, attempt, .. } = claim(&mut e, 1).remove(0);
    assert_eq!(attempt, 2);
    e.complete(slot, Completion::Success("7".into()));
    assert_eq!(e.state(&id).unwrap(), TaskState::Success);
}

#[test]
fn max_parallel_holds_and_keeps_order() {
    let (mut e, _) = engine("");
    let capped = register(&mut e, "capped", r#"{"maxParallel":2}"#);
    let free = register(&mut e, "free", "");
    for i in 0..5 {
        submit(&mut e, capped, &format!("\"c{i}\""), "");
    }
    submit(&mut e, free, "\"f\"", "");
    let first: Vec<_> = claim(&mut e, 10);
    let names: Vec<String> = first
        .iter()
        .map(|c| c.payload.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["c0", "c1", "f"]);
    e.complete(first[0].slot, Completion::Success("null".into()));
    let next = claim(&mut e, 10);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].payload, "c2");
    e.complete(first[1].slot, Completion::Success("null".into()));
    e.complete(next[0].slot, Completion::Success("null".into()));
    let rest: Vec<String> = claim(&mut e, 10)
        .iter()
        .map(|c| c.payload.as_str().unwrap().to_string())
        .collect();
    assert_eq!(rest, vec!["c3", "c4"]);
}

#[test]
fn queues_option_limits_what_is_claimed() {
    let (mut e, _) = engine(r#"{"queues":["math"]}"#);
    let add = register(&mut e, "add", r#"{"queue":"math"}"#);
    let mail = register(&mut e, "mail", r#"{"queue":"email"}"#);
    let mail_id = submit(&mut e, mail, "1", "");
    submit(&mut e, add, "2", "");
    let got = claim(&mut e, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, 2);
    assert_eq!(e.state(&mail_id).unwrap(), TaskState::Pending);
}

#[test]
fn a_producer_only_executor_on_the_memory_store_is_refused() {
    // Nothing could ever run its tasks (producers on durable stores: conformance.rs).
    let err = EngineConfig::from_json(r#"{"worker":false}"#).unwrap_err();
    assert!(err.to_string().contains("`worker: false` with the memory store"), "{err}");
}

#[test]
fn cancel_pending_revokes_without_running() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "1", "");
    assert_eq!(e.cancel(&id).unwrap(), CancelOutcome::Revoked);
    assert_eq!(e.state(&id).unwrap(), TaskState::Revoked);
    assert!(claim(&mut e, 10).is_empty());
    assert_eq!(
        e.cancel(&id).unwrap(),
        CancelOutcome::AlreadyFinal(TaskState::Revoked)
    );
}

#[test]
fn cancel_running_revokes_when_the_handler_returns() {
    let (mut e, _) = engine(r#"{"retry":{"maxRetries":3,"delayMs":0}}"#);
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "1", "");
    let slot = claim(&mut e, 1).remove(0).slot;
    assert_eq!(e.cancel(&id).unwrap(), CancelOutcome::AbortRunning(slot));
    assert_eq!(e.state(&id).unwrap(), TaskState::Started);
    e.complete(slot, fail("aborted"));
    assert_eq!(
        e.state(&id).unwrap(),
        TaskState::Revoked,
        "no retry after a cancel"
    );
}

#[test]
fn cancel_of_a_task_waiting_to_retry_revokes_it() {
    let (mut e, _) = engine(r#"{"retry":{"maxRetries":3,"delayMs":1000}}"#);
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "1", "");
    let slot = claim(&mut e, 1).remove(0).slot;
    e.complete(slot, fail("x"));
    assert_eq!(e.cancel(&id).unwrap(), CancelOutcome::Revoked);
    assert_eq!(e.next_due(), None, "the retry entry is dead");
}

#[test]
fn idempotency_keys_return_the_first_task() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    let a = submit(&mut e, d, "1", r#"{"key":"order-42"}"#);
    let b = submit(&mut e, d, "2", r#"{"key":"order-42"}"#);
    assert_eq!(a, b);
    assert_eq!(e.unfinished(), 1);
    let c = submit(&mut e, d, "3", r#"{"key":"order-43"}"#);
    assert_ne!(a, c);
}

#[test]
fn watchers_get_a_settled_event_with_the_outcome() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "1", "");
    assert!(e.watch(&id).unwrap().is_none());
    let slot = claim(&mut e, 1).remove(0).slot;
    e.complete(slot, Completion::Success("{\"sum\":3}".into()));
    let mut out = String::from("[");
    assert_eq!(e.drain_events(&mut out), 1);
    out.push(']');
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0][0], "ok");
    assert_eq!(v[0][1].as_u64(), Some(slot as u64));
    let result: serde_json::Value = serde_json::from_str(v[0][2].as_str().unwrap()).unwrap();
    assert_eq!(result["sum"], 3);
    assert!(e.watch(&id).unwrap().is_some(), "already final");
}

#[test]
fn state_events_follow_every_transition() {
    let (mut e, _) = engine("");
    e.set_state_events(true);
    let d = register(&mut e, "t", "");
    submit(&mut e, d, "1", "");
    let slot = claim(&mut e, 1).remove(0).slot;
    e.complete(slot, Completion::Success("null".into()));
    let mut out = String::from("[");
    e.drain_events(&mut out);
    out.push(']');
    // ["state", id, name, queue, STATE, attempt, durationMs, detail]
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let states: Vec<&str> = v.iter().map(|x| x[4].as_str().unwrap()).collect();
    assert_eq!(states, vec!["PENDING", "RECEIVED", "STARTED", "SUCCESS"]);
    assert_eq!(v[3][3], "default");
    assert_eq!(v[3][5], 1, "the attempt");
    assert!(v[3][6].is_u64(), "a duration for a run that ended");
    assert_eq!(v[3][7], serde_json::Value::Null, "its result: null");
    assert_eq!(v[0][6], serde_json::Value::Null, "no duration before it ran");
}

#[test]
fn retention_forgets_the_oldest_finished_tasks() {
    let (mut e, clock) = engine(r#"{"keepResults":{"count":2,"ageMs":1000}}"#);
    let d = register(&mut e, "t", "");
    let ids: Vec<String> = (0..3)
        .map(|i| submit(&mut e, d, &i.to_string(), ""))
        .collect();
    for Claimed { slot, .. } in claim(&mut e, 3) {
        e.complete(slot, Completion::Success("null".into()));
    }
    assert!(e.state(&ids[0]).is_err(), "beyond the count");
    assert_eq!(e.state(&ids[2]).unwrap(), TaskState::Success);
    clock.advance(1000);
    let more = submit(&mut e, d, "9", "");
    let slot = claim(&mut e, 1).remove(0).slot;
    e.complete(slot, Completion::Success("null".into()));
    assert!(e.state(&ids[2]).is_err(), "older than ageMs");
    assert_eq!(e.state(&more).unwrap(), TaskState::Success);
}

#[test]
fn progress_status_and_logs_are_recorded_while_running() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "1", "");
    let slot = claim(&mut e, 1).remove(0).slot;
    e.set_progress(slot, 50.0, Some("half".into())).unwrap();
    e.set_status(slot, "crunching".into());
    e.log(slot, "info", "hello".into()).unwrap();
    assert!(e.set_progress(slot, 101.0, None).is_err());
    assert!(e.log(slot, "loud", "x".into()).is_err());
    let info: serde_json::Value = serde_json::from_str(&e.info_json(&id).unwrap()).unwrap();
    assert_eq!(info["progress"], 50.0);
    assert_eq!(info["progressMessage"], "half");
    assert_eq!(info["status"], "crunching");
    assert_eq!(info["logs"][0]["message"], "hello");
    e.complete(slot, Completion::Success("null".into()));
    e.set_status(slot, "late".into());
    let info: serde_json::Value = serde_json::from_str(&e.info_json(&id).unwrap()).unwrap();
    assert_eq!(
        info["status"], "crunching",
        "controls after the end are dropped"
    );
}

#[test]
fn bad_config_is_rejected_with_named_errors() {
    for (json, needle) in [
        (r#"{"concurrency":0}"#, "concurrency"),
        (r#"{"queues":[]}"#, "queues"),
        (r#"{"retry":{"backoff":"linear"}}"#, "retry.backoff"),
        (r#"{"store":"mongo://x"}"#, "unsupported store"),
        (r#"{"concurency":4}"#, "unknown field `concurency`"),
    ] {
        let err = EngineConfig::from_json(json).unwrap_err().to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
}

#[test]
fn unknown_ids_are_not_found() {
    let (mut e, _) = engine("");
    register(&mut e, "t", "");
    let missing = uuid::Uuid::now_v7().to_string();
    assert!(e
        .state(&missing)
        .unwrap_err()
        .to_string()
        .contains("no task with id"));
    assert!(e
        .cancel("garbage")
        .unwrap_err()
        .to_string()
        .contains("not a task id"));
}

#[test]
fn fifo_holds_across_many_task_names_and_caps() {
    let (mut e, _) = engine("");
    let defs: Vec<u32> = (0..50)
        .map(|i| {
            register(
                &mut e,
                &format!("t{i}"),
                if i % 7 == 0 {
                    r#"{"maxParallel":1}"#
                } else {
                    ""
                },
            )
        })
        .collect();
    // Submit 500 tasks round-robin over the names; payload = submit order.
    for n in 0..500 {
        submit(&mut e, defs[n % 50], &n.to_string(), "");
    }
    let got: Vec<u64> = claim(&mut e, 1000)
        .iter()
        .map(|c| c.payload.as_u64().unwrap())
        .collect();
    // Capped names (every 7th) start one task each; everything else starts, in order.
    let expected: Vec<u64> = (0..500u64)
        .filter(|n| (n % 50) % 7 != 0 || *n < 50)
        .collect();
    assert_eq!(got, expected);
}

/// Events the engine has for its host, as one JSON array.
fn drain_events(e: &mut taskloom_engine::Engine) -> serde_json::Value {
    let mut out = String::from("[");
    e.drain_events(&mut out);
    out.push(']');
    serde_json::from_str(&out).unwrap()
}

#[test]
fn watch_many_answers_per_position_and_a_host_settled_success_sends_no_event() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    let a = submit(&mut e, d, "1", "");
    let b = submit(&mut e, d, "2", "");
    let unknown = "0190a5a4-0000-7000-8000-000000000000";
    let ids = format!("{a}{b}{unknown}");
    let claimed = claim(&mut e, 2);
    // b, a, a again, and an unknown id: a slot each, then an error naming the id.
    let answers: serde_json::Value =
        serde_json::from_str(&e.watch_many(&ids, &[1, 0, 0, 2], true)).unwrap();
    assert_eq!(answers[1], answers[2]);
    assert!(answers[0].as_u64().is_some() && answers[1].as_u64().is_some());
    assert_eq!(answers[3]["code"], "ERR_TASKLOOM_NOT_FOUND");
    assert!(answers[3]["message"].as_str().unwrap().contains(unknown));
    drain_events(&mut e);
    // The host settles a's waiters itself: no event; b reports as before.
    e.complete(claimed[0].slot, Completion::SuccessSettledByHost("10".into()));
    e.complete(claimed[1].slot, Completion::Success("20".into()));
    let events = drain_events(&mut e);
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events[0][0], "ok");
    assert_eq!(events[0][2], "20");
    assert_eq!(e.state(&a).unwrap(), TaskState::Success);
    // Finished: a success is its result text; anything else its outcome.
    let answers: serde_json::Value =
        serde_json::from_str(&e.watch_many(&ids, &[0], true)).unwrap();
    assert_eq!(answers[0], "10");
    let c = submit(&mut e, d, "3", "");
    let slot = claim(&mut e, 1)[0].slot;
    e.complete(slot, fail("no"));
    let answers: serde_json::Value = serde_json::from_str(&e.watch_many(&c, &[0], true)).unwrap();
    assert_eq!(answers[0]["state"], "FAILURE");
    assert_eq!(answers[0]["error"]["message"], "no");
}

#[test]
fn a_host_settled_success_that_a_cancel_revoked_still_sends_its_outcome() {
    let (mut e, _) = engine("");
    let d = register(&mut e, "t", "");
    let id = submit(&mut e, d, "1", "");
    let slot = claim(&mut e, 1)[0].slot;
    e.watch_many(&id, &[0], true);
    assert_eq!(e.cancel(&id).unwrap(), CancelOutcome::AbortRunning(slot));
    drain_events(&mut e);
    e.complete(slot, Completion::SuccessSettledByHost("1".into()));
    let events = drain_events(&mut e);
    assert_eq!(events[0][0], "done");
    assert_eq!(events[0][2]["state"], "REVOKED");
}

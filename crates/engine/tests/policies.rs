//! Rate limits and circuit breakers as the engine applies them, on a manual clock.

mod common;

use common::{claim, engine, events, register, submit_n, Claimed, T0};
use taskloom_engine::engine::EngineConfig;
use taskloom_engine::{Completion, TaskDef, TaskError, TaskState};

fn fail() -> Completion {
    Completion::Failure(TaskError::new("Error", "down"))
}

fn ok() -> Completion {
    Completion::Success("null".into())
}

#[test]
fn a_task_rate_limit_defers_in_order_without_touching_attempts() {
    let (mut e, clock) = engine("");
    let limited = register(
        &mut e,
        "limited",
        r#"{"rateLimit":{"limit":2,"intervalMs":1000,"burst":2}}"#,
    );
    let free = register(&mut e, "free", "");
    submit_n(&mut e, limited, 5);
    submit_n(&mut e, free, 3);
    let first = claim(&mut e, 100);
    let limited_payloads: Vec<_> = first
        .iter()
        .filter(|c| c.def == limited)
        .map(|c| c.payload.clone())
        .collect();
    assert_eq!(limited_payloads, vec![0, 1], "the burst of 2, in order");
    assert_eq!(
        first.iter().filter(|c| c.def == free).count(),
        3,
        "other tasks are not held back"
    );
    let ev = events(&mut e);
    assert!(ev
        .iter()
        .any(|x| x[0] == "rateLimited" && x[1] == "task" && x[2] == "limited"));
    assert_eq!(e.next_due(), Some(T0 + 500), "one cell every 500 ms");
    clock.advance(499);
    assert!(claim(&mut e, 100).is_empty());
    clock.advance(1);
    let next = claim(&mut e, 100);
    assert_eq!(next.len(), 1);
    assert_eq!(
        (next[0].attempt, next[0].payload.clone()),
        (1, serde_json::json!(2)),
        "first attempt, next in line"
    );
}

#[test]
fn waiting_tasks_say_so_in_their_status() {
    let (mut e, _) = engine("");
    let d = register(
        &mut e,
        "slow-api",
        r#"{"rateLimit":{"limit":1,"intervalMs":60000}}"#,
    );
    let ids = submit_n(&mut e, d, 2);
    claim(&mut e, 10);
    let info: serde_json::Value = serde_json::from_str(&e.info_json(&ids[1]).unwrap()).unwrap();
    assert_eq!(info["state"], "PENDING");
    assert!(
        info["status"]
            .as_str()
            .unwrap()
            .starts_with("waiting: rate limit of task 'slow-api'"),
        "{info}"
    );
}

#[test]
fn queue_and_executor_limits_apply_across_tasks() {
    let (mut e, clock) = engine(
        r#"{"queueRateLimits":{"mail":{"limit":3,"intervalMs":1000,"burst":3}},"rateLimit":{"limit":5,"intervalMs":1000,"burst":5}}"#,
    );
    let a = register(&mut e, "a", r#"{"queue":"mail"}"#);
    let b = register(&mut e, "b", r#"{"queue":"mail"}"#);
    let c = register(&mut e, "c", r#"{"queue":"other"}"#);
    submit_n(&mut e, a, 4);
    submit_n(&mut e, b, 4);
    submit_n(&mut e, c, 10);
    let got = claim(&mut e, 100);
    let mail = got.iter().filter(|x| x.def == a || x.def == b).count();
    assert_eq!(mail, 3, "the mail queue's limit");
    assert_eq!(got.len(), 5, "the executor's limit");
    let ev = events(&mut e);
    assert!(ev
        .iter()
        .any(|x| x[0] == "rateLimited" && x[1] == "queue" && x[2] == "mail"));
    assert!(ev
        .iter()
        .any(|x| x[0] == "rateLimited" && x[1] == "executor"));
    clock.advance(1000);
    assert_eq!(claim(&mut e, 100).len(), 5);
    let _ = c;
}

#[test]
fn a_rate_limit_delivers_its_rate_second_after_second() {
    for limit in [100u64, 1000, 10_000] {
        let (mut e, clock) = engine(r#"{"concurrency":100000}"#);
        let d = register(
            &mut e,
            "t",
            &format!(r#"{{"rateLimit":{{"limit":{limit}}}}}"#),
        );
        submit_n(&mut e, d, (limit * 5) as usize);
        let mut per_second = [0u64; 4];
        for ms in 0..4000u64 {
            for Claimed { slot, .. } in claim(&mut e, usize::MAX) {
                per_second[(ms / 1000) as usize] += 1;
                e.complete(slot, ok());
            }
            clock.advance(1);
        }
        // Every whole second after the first.
        for (s, n) in per_second[1..].iter().enumerate() {
            let err = (*n as f64 - limit as f64).abs() / limit as f64;
            assert!(err <= 0.01, "{limit}/s: second {} started {n}", s + 1);
        }
    }
}

#[test]
fn a_breaker_opens_holds_tasks_and_lets_one_trial_through() {
    let (mut e, clock) = engine("");
    let d = register(
        &mut e,
        "api",
        r#"{"circuitBreaker":{"failureThreshold":2,"resetTimeoutMs":1000}}"#,
    );
    let ids = submit_n(&mut e, d, 5);
    let first = claim(&mut e, 2);
    for c in &first {
        e.complete(c.slot, fail());
    }
    let ev = events(&mut e);
    assert!(
        ev.iter()
            .any(|x| x == &serde_json::json!(["breaker", "api", "closed", "open"])),
        "{ev:?}"
    );
    assert!(claim(&mut e, 10).is_empty(), "open: nothing runs");
    assert_eq!(e.next_due(), Some(T0 + 1000));
    let info: serde_json::Value = serde_json::from_str(&e.info_json(&ids[2]).unwrap()).unwrap();
    assert_eq!(info["attempt"], 0, "waiting burns no attempt");
    assert_eq!(info["breaker"]["state"], "open");
    assert!(info["status"]
        .as_str()
        .unwrap()
        .contains("circuit breaker of task 'api' is open"));
    let snap: serde_json::Value =
        serde_json::from_str(&e.breaker_json("api").unwrap().unwrap()).unwrap();
    assert_eq!(
        (snap["state"].as_str(), snap["failures"].as_u64()),
        (Some("open"), Some(2))
    );
    assert_eq!(snap["nextTryAt"], T0 + 1000);
    clock.advance(1000);
    let trial = claim(&mut e, 10);
    assert_eq!(trial.len(), 1, "half-open: one trial");
    assert!(events(&mut e)
        .iter()
        .any(|x| x == &serde_json::json!(["breaker", "api", "open", "halfOpen"])));
    e.complete(trial[0].slot, ok());
    assert!(events(&mut e)
        .iter()
        .any(|x| x == &serde_json::json!(["breaker", "api", "halfOpen", "closed"])));
    assert_eq!(claim(&mut e, 10).len(), 2, "closed again: the rest run");
}

#[test]
fn an_open_breaker_is_half_open_once_its_reset_time_passes_with_nothing_waiting() {
    let (mut e, clock) = engine("");
    let d = register(
        &mut e,
        "api",
        r#"{"circuitBreaker":{"failureThreshold":1,"resetTimeoutMs":1000}}"#,
    );
    let slot = {
        submit_n(&mut e, d, 1);
        claim(&mut e, 1).remove(0).slot
    };
    e.complete(slot, fail());
    events(&mut e);
    assert_eq!(e.breaker_due(), Some(T0 + 1000), "the host's timer");
    assert_eq!(e.next_due(), None, "nothing waits: nothing keeps the host busy");
    clock.advance(999);
    let snap: serde_json::Value =
        serde_json::from_str(&e.breaker_json("api").unwrap().unwrap()).unwrap();
    assert_eq!(snap["state"], "open");
    clock.advance(1);
    let snap: serde_json::Value =
        serde_json::from_str(&e.breaker_json("api").unwrap().unwrap()).unwrap();
    assert_eq!(snap["state"], "halfOpen", "no task of the name has arrived");
    let m: serde_json::Value = serde_json::from_str(&e.metrics_json()).unwrap();
    assert_eq!(m["api"]["breaker"], "halfOpen");
    assert_eq!(
        events(&mut e),
        vec![serde_json::json!(["breaker", "api", "open", "halfOpen"])],
        "the transition's event, once"
    );
    assert_eq!(e.breaker_due(), None);
}

#[test]
fn an_open_breaker_does_not_burn_retries() {
    let (mut e, clock) = engine("");
    let d = register(
        &mut e,
        "api",
        r#"{"retry":{"maxRetries":1,"delayMs":10},"circuitBreaker":{"failureThreshold":1,"resetTimeoutMs":500}}"#,
    );
    let id = submit_n(&mut e, d, 1).remove(0);
    let slot = claim(&mut e, 1).remove(0).slot;
    e.complete(slot, fail());
    assert_eq!(e.state(&id).unwrap(), TaskState::Retry);
    clock.advance(10);
    assert!(
        claim(&mut e, 1).is_empty(),
        "the retry is due but the breaker is open"
    );
    assert_eq!(e.state(&id).unwrap(), TaskState::Retry);
    clock.advance(490);
    let Claimed { slot, attempt, .. } = claim(&mut e, 1).remove(0);
    assert_eq!(
        attempt, 2,
        "the retry runs as the trial, still its second attempt"
    );
    e.complete(slot, ok());
    assert_eq!(e.state(&id).unwrap(), TaskState::Success);
}

#[test]
fn fail_mode_fails_waiting_tasks_with_circuit_open_error() {
    let (mut e, _) = engine("");
    let d = register(
        &mut e,
        "api",
        r#"{"retry":{"maxRetries":3},"circuitBreaker":{"failureThreshold":1,"resetTimeoutMs":5000,"onOpen":"fail"}}"#,
    );
    let ids = submit_n(&mut e, d, 3);
    let slot = claim(&mut e, 1).remove(0).slot;
    e.complete(slot, fail());
    assert!(claim(&mut e, 10).is_empty());
    for id in &ids[1..] {
        let info: serde_json::Value = serde_json::from_str(&e.info_json(id).unwrap()).unwrap();
        assert_eq!(info["state"], "FAILURE");
        assert_eq!(info["error"]["type"], "CircuitOpenError");
        assert_eq!(info["attempt"], 0, "never ran");
    }
    let snap: serde_json::Value =
        serde_json::from_str(&e.breaker_json("api").unwrap().unwrap()).unwrap();
    assert_eq!(snap["rejected"], 2);
}

#[test]
fn errors_the_breaker_ignores_do_not_open_it() {
    let (mut e, _) = engine("");
    let d = register(
        &mut e,
        "api",
        r#"{"circuitBreaker":{"failureThreshold":1}}"#,
    );
    submit_n(&mut e, d, 2);
    let slot = claim(&mut e, 1).remove(0).slot;
    let mut err = TaskError::new("ValidationError", "bad input");
    err.ignored_by_breaker = true;
    e.complete(slot, Completion::Failure(err));
    assert_eq!(claim(&mut e, 1).len(), 1, "still closed");
}

#[test]
fn cancelled_runs_do_not_count_for_the_breaker() {
    let (mut e, _) = engine("");
    let d = register(
        &mut e,
        "api",
        r#"{"circuitBreaker":{"failureThreshold":1}}"#,
    );
    let ids = submit_n(&mut e, d, 2);
    let slot = claim(&mut e, 1).remove(0).slot;
    e.cancel(&ids[0]).unwrap();
    e.complete(slot, fail());
    assert_eq!(e.state(&ids[0]).unwrap(), TaskState::Revoked);
    assert_eq!(claim(&mut e, 1).len(), 1, "still closed");
}

#[test]
fn direct_runs_ask_the_breaker_and_limits() {
    let (mut e, clock) = engine("");
    let d = register(
        &mut e,
        "api",
        r#"{"rateLimit":{"limit":1,"intervalMs":100},"circuitBreaker":{"failureThreshold":1,"resetTimeoutMs":1000,"onOpen":"fail"}}"#,
    );
    assert_eq!(e.direct_acquire(d), Ok(false));
    assert_eq!(e.direct_acquire(d), Err(Some(T0 + 100)), "rate limited");
    e.direct_finish(d, false, true, true);
    clock.advance(100);
    assert_eq!(e.direct_acquire(d), Err(None), "breaker open, fail mode");
}

#[test]
fn bad_policy_options_are_rejected() {
    for (json, needle) in [
        (r#"{"rateLimit":{"limit":0}}"#, "rateLimit.limit"),
        (
            r#"{"rateLimit":{"limit":5,"intervalMs":0}}"#,
            "rateLimit.intervalMs",
        ),
        (
            r#"{"circuitBreaker":{"failureThreshold":0}}"#,
            "circuitBreaker.failureThreshold",
        ),
        (r#"{"circuitBreaker":{"onOpen":"later"}}"#, "onOpen"),
        (r#"{"rateLimit":{"limt":5}}"#, "unknown field `limt`"),
    ] {
        let err = TaskDef::from_json("t", json).unwrap_err().to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
    let err = EngineConfig::from_json(r#"{"queueRateLimits":{"mail":{"limit":-1}}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("queueRateLimits.mail.limit"), "{err}");
}

#[test]
fn a_step_reports_the_wait_its_claim_ran_into() {
    // Regression: the claim and the next-due time must be judged at one instant. A
    // claim held back until T+1 must be followed by a wake-up at T+1 even if the clock
    // has reached T+1 by the time the step computes its next due time.
    let (mut e, clock) = engine("");
    let d = register(
        &mut e,
        "t",
        r#"{"rateLimit":{"limit":1,"intervalMs":1,"burst":1}}"#,
    );
    submit_n(&mut e, d, 3);
    let now = e.now();
    let mut out = String::new();
    assert_eq!(e.claim_at(now, 10, &mut out), 1);
    clock.advance(1); // the millisecond passes between the two halves of the step
    assert_eq!(e.next_due_at(now), Some(now + 1));
}

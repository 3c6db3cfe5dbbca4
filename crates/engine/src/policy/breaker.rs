//! Circuit breakers, one per task name: after enough failures the breaker opens and the
//! task's runs stop; after a reset time it half-opens and lets a few trial runs through;
//! their outcome closes it or opens it again (for longer, with exponential growth).
//!
//! When to open is decided by failsafe's failure policies (`consecutive_failures`,
//! `success_rate_over_time_window`); the states and their times are kept here on the
//! engine's clock, so that they can be shown (`openedAt`, `nextTryAt`) and tested.

use std::time::Duration;

use failsafe::failure_policy::{consecutive_failures, success_rate_over_time_window};
use failsafe::FailurePolicy;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::options::{positive_whole_number, whole_number};

/// `circuitBreaker` options as given.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BreakerSpec {
    /// Open after this many failures in a row.
    pub failure_threshold: Option<f64>,
    /// Open when the failure rate over a window exceeds a threshold.
    pub failure_rate: Option<FailureRateSpec>,
    pub reset_timeout_ms: Option<f64>,
    /// Grow the open time exponentially on each re-open, up to this.
    pub max_reset_timeout_ms: Option<f64>,
    pub half_open_trials: Option<f64>,
    pub on_open: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FailureRateSpec {
    /// Failure rate (0 < rate ≤ 1) above which the breaker opens.
    pub threshold: f64,
    /// Length of the window, whole seconds in ms (failsafe measures it in seconds).
    pub window_ms: f64,
    /// No decision before this many runs were seen in the window.
    pub min_requests: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOpen {
    /// Tasks wait for the breaker to half-open (default).
    Wait,
    /// Tasks fail at once with CircuitOpenError.
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    pub failure_threshold: Option<u32>,
    pub failure_rate: Option<(f64, u64, u32)>,
    pub reset_timeout_ms: u64,
    pub max_reset_timeout_ms: Option<u64>,
    pub half_open_trials: u32,
    pub on_open: OnOpen,
}

pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
pub const DEFAULT_RESET_TIMEOUT_MS: u64 = 30_000;

impl BreakerSpec {
    pub fn validate(&self) -> Result<BreakerConfig> {
        let p = "circuitBreaker";
        let failure_threshold = self
            .failure_threshold
            .map(|t| {
                positive_whole_number(&format!("{p}.failureThreshold"), t)
                    .map(|t| t.min(u32::MAX as u64) as u32)
            })
            .transpose()?;
        let failure_rate = match &self.failure_rate {
            None => None,
            Some(r) => {
                if !(r.threshold > 0.0 && r.threshold <= 1.0) {
                    return Err(EngineError::invalid(format!(
                        "`{p}.failureRate.threshold` must be a rate above 0 and at most 1, got {}",
                        r.threshold
                    )));
                }
                let window =
                    positive_whole_number(&format!("{p}.failureRate.windowMs"), r.window_ms)?;
                if window % 1000 != 0 {
                    return Err(EngineError::invalid(format!(
                        "`{p}.failureRate.windowMs` must be whole seconds (a multiple of 1000), got {window}"
                    )));
                }
                let min = match r.min_requests {
                    Some(m) => whole_number(&format!("{p}.failureRate.minRequests"), m)? as u32,
                    None => 10,
                };
                Some((r.threshold, window, min))
            }
        };
        let reset_timeout_ms = match self.reset_timeout_ms {
            Some(r) => positive_whole_number(&format!("{p}.resetTimeoutMs"), r)?,
            None => DEFAULT_RESET_TIMEOUT_MS,
        };
        let max_reset_timeout_ms = self
            .max_reset_timeout_ms
            .map(|m| positive_whole_number(&format!("{p}.maxResetTimeoutMs"), m))
            .transpose()?;
        if let Some(m) = max_reset_timeout_ms {
            if m < reset_timeout_ms {
                return Err(EngineError::invalid(format!(
                    "`{p}.maxResetTimeoutMs` ({m}) is smaller than `{p}.resetTimeoutMs` ({reset_timeout_ms})"
                )));
            }
        }
        let half_open_trials = match self.half_open_trials {
            Some(t) => positive_whole_number(&format!("{p}.halfOpenTrials"), t)?
                .min(u32::MAX as u64) as u32,
            None => 1,
        };
        let on_open = match self.on_open.as_deref() {
            None | Some("wait") => OnOpen::Wait,
            Some("fail") => OnOpen::Fail,
            Some(other) => {
                return Err(EngineError::invalid(format!(
                    "`{p}.onOpen` must be 'wait' or 'fail', got '{other}'"
                )))
            }
        };
        let failure_threshold = match (failure_threshold, failure_rate) {
            (None, None) => Some(DEFAULT_FAILURE_THRESHOLD),
            (t, _) => t,
        };
        Ok(BreakerConfig {
            failure_threshold,
            failure_rate,
            reset_timeout_ms,
            max_reset_timeout_ms,
            half_open_trials,
            on_open,
        })
    }
}

/// How long each successive opening lasts: constant, or doubling up to a cap.
#[derive(Debug, Clone)]
pub struct ResetBackoff {
    next_ms: u64,
    max_ms: Option<u64>,
}

impl Iterator for ResetBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let now = self.next_ms;
        if let Some(max) = self.max_ms {
            self.next_ms = self.next_ms.saturating_mul(2).min(max);
        }
        Some(Duration::from_millis(now))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "halfOpen",
        }
    }
}

/// What a breaker says to a task that wants to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Run; `trial` when it is a half-open trial run.
    Run { trial: bool },
    /// Not now: wait until this time (ms), or until a trial finishes (`None`).
    Wait(Option<u64>),
    /// Fail at once (open, `onOpen: 'fail'`).
    Reject,
}

/// What `ex.breaker(name)` shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerSnapshot {
    pub state: BreakerState,
    /// Failures counted since the breaker last closed.
    pub failures: u64,
    pub successes: u64,
    /// Runs refused while it was open (`onOpen: 'fail'`).
    pub rejected: u64,
    pub opened_at: Option<u64>,
    pub next_try_at: Option<u64>,
}

pub struct Breaker {
    config: BreakerConfig,
    policy: Box<dyn FailurePolicy + Send>,
    state: BreakerState,
    opened_at: u64,
    next_try_at: u64,
    /// The open duration used last, for a re-open from half-open when the policy is silent.
    last_open_ms: u64,
    trials_running: u32,
    trials_passed: u32,
    failures: u64,
    successes: u64,
    rejected: u64,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("state", &self.state)
            .finish()
    }
}

/// A state change, for the `breaker` event.
pub type Transition = (BreakerState, BreakerState);

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        let backoff = ResetBackoff {
            next_ms: config.reset_timeout_ms,
            max_ms: config.max_reset_timeout_ms,
        };
        let policy: Box<dyn FailurePolicy + Send> =
            match (config.failure_threshold, config.failure_rate) {
                (Some(n), None) => Box::new(consecutive_failures(n, backoff)),
                (None, Some((rate, window, min))) => Box::new(success_rate_over_time_window(
                    1.0 - rate,
                    min,
                    Duration::from_millis(window),
                    backoff,
                )),
                (Some(n), Some((rate, window, min))) => {
                    Box::new(consecutive_failures(n, backoff.clone()).or_else(
                        success_rate_over_time_window(
                            1.0 - rate,
                            min,
                            Duration::from_millis(window),
                            backoff,
                        ),
                    ))
                }
                (None, None) => unreachable!("validate() always sets a policy"),
            };
        Breaker {
            last_open_ms: config.reset_timeout_ms,
            config,
            policy,
            state: BreakerState::Closed,
            opened_at: 0,
            next_try_at: 0,
            trials_running: 0,
            trials_passed: 0,
            failures: 0,
            successes: 0,
            rejected: 0,
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Moves an open breaker whose time is up to half-open.
    pub fn tick(&mut self, now: u64) -> Option<Transition> {
        if self.state == BreakerState::Open && now >= self.next_try_at {
            self.state = BreakerState::HalfOpen;
            self.trials_running = 0;
            self.trials_passed = 0;
            return Some((BreakerState::Open, BreakerState::HalfOpen));
        }
        None
    }

    /// May a task run now? Does not reserve anything; `start` does.
    pub fn permit(&mut self, now: u64) -> (Permit, Option<Transition>) {
        let t = self.tick(now);
        let p = match self.state {
            BreakerState::Closed => Permit::Run { trial: false },
            BreakerState::HalfOpen
                if self.trials_running + self.trials_passed < self.config.half_open_trials =>
            {
                Permit::Run { trial: true }
            }
            BreakerState::HalfOpen => Permit::Wait(None),
            BreakerState::Open => match self.config.on_open {
                OnOpen::Wait => Permit::Wait(Some(self.next_try_at)),
                OnOpen::Fail => Permit::Reject,
            },
        };
        (p, t)
    }

    /// A permitted run started.
    pub fn start(&mut self, trial: bool) {
        if trial {
            self.trials_running += 1;
        }
    }

    pub fn reject(&mut self) {
        self.rejected += 1;
    }

    /// A run ended. `counts` is false for errors the breaker ignores (and cancellations).
    pub fn finish(
        &mut self,
        now: u64,
        trial: bool,
        failed: bool,
        counts: bool,
    ) -> Option<Transition> {
        if trial {
            self.trials_running = self.trials_running.saturating_sub(1);
        }
        if failed && counts {
            self.failures += 1;
            match self.state {
                BreakerState::Closed => {
                    if let Some(open_for) = self.policy.mark_dead_on_failure() {
                        return Some(self.open(now, open_for));
                    }
                }
                BreakerState::HalfOpen if trial => {
                    let open_for = self
                        .policy
                        .mark_dead_on_failure()
                        .unwrap_or(Duration::from_millis(self.last_open_ms));
                    return Some(self.open(now, open_for));
                }
                _ => {}
            }
            None
        } else if !failed {
            self.successes += 1;
            self.policy.record_success();
            if self.state == BreakerState::HalfOpen && trial {
                self.trials_passed += 1;
                if self.trials_passed >= self.config.half_open_trials {
                    self.state = BreakerState::Closed;
                    self.failures = 0;
                    self.policy.revived();
                    return Some((BreakerState::HalfOpen, BreakerState::Closed));
                }
            }
            None
        } else {
            None
        }
    }

    fn open(&mut self, now: u64, open_for: Duration) -> Transition {
        let from = self.state;
        self.state = BreakerState::Open;
        self.last_open_ms = open_for.as_millis() as u64;
        self.opened_at = now;
        self.next_try_at = now + self.last_open_ms;
        (from, BreakerState::Open)
    }

    pub fn snapshot(&self) -> BreakerSnapshot {
        let open_or_half = self.state != BreakerState::Closed;
        BreakerSnapshot {
            state: self.state,
            failures: self.failures,
            successes: self.successes,
            rejected: self.rejected,
            opened_at: open_or_half.then_some(self.opened_at),
            next_try_at: (self.state == BreakerState::Open).then_some(self.next_try_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(json: &str) -> Breaker {
        let spec: BreakerSpec = serde_json::from_str(json).unwrap();
        Breaker::new(spec.validate().unwrap())
    }

    fn run(b: &mut Breaker, now: u64, fail: bool) -> Option<Transition> {
        match b.permit(now).0 {
            Permit::Run { trial } => {
                b.start(trial);
                b.finish(now, trial, fail, true)
            }
            other => panic!("not permitted: {other:?}"),
        }
    }

    #[test]
    fn opens_after_consecutive_failures_and_half_opens_after_the_reset_time() {
        let mut b = breaker(r#"{"failureThreshold":3,"resetTimeoutMs":1000}"#);
        assert_eq!(run(&mut b, 0, true), None);
        assert_eq!(run(&mut b, 0, false), None, "a success resets the count");
        assert_eq!(run(&mut b, 0, true), None);
        assert_eq!(run(&mut b, 0, true), None);
        assert_eq!(
            run(&mut b, 10, true),
            Some((BreakerState::Closed, BreakerState::Open))
        );
        let s = b.snapshot();
        assert_eq!(
            (s.state, s.opened_at, s.next_try_at),
            (BreakerState::Open, Some(10), Some(1010))
        );
        assert_eq!(b.permit(1009).0, Permit::Wait(Some(1010)));
        let (p, t) = b.permit(1010);
        assert_eq!(p, Permit::Run { trial: true });
        assert_eq!(t, Some((BreakerState::Open, BreakerState::HalfOpen)));
        b.start(true);
        assert_eq!(
            b.permit(1010).0,
            Permit::Wait(None),
            "one trial at a time by default"
        );
        assert_eq!(
            b.finish(1020, true, false, true),
            Some((BreakerState::HalfOpen, BreakerState::Closed))
        );
        assert_eq!(b.snapshot().failures, 0);
    }

    #[test]
    fn a_failed_trial_reopens_with_exponential_growth() {
        let mut b =
            breaker(r#"{"failureThreshold":1,"resetTimeoutMs":100,"maxResetTimeoutMs":350}"#);
        run(&mut b, 0, true);
        assert_eq!(b.snapshot().next_try_at, Some(100));
        run(&mut b, 100, true);
        assert_eq!(
            b.snapshot().next_try_at,
            Some(300),
            "200 ms the second time"
        );
        run(&mut b, 300, true);
        assert_eq!(b.snapshot().next_try_at, Some(650), "capped at 350 ms");
        run(&mut b, 650, false);
        assert_eq!(b.state(), BreakerState::Closed);
        run(&mut b, 700, true);
        assert_eq!(
            b.snapshot().next_try_at,
            Some(800),
            "closing resets the growth"
        );
    }

    #[test]
    fn several_trials_must_all_pass_to_close() {
        let mut b = breaker(r#"{"failureThreshold":1,"resetTimeoutMs":10,"halfOpenTrials":3}"#);
        run(&mut b, 0, true);
        for _ in 0..3 {
            assert_eq!(b.permit(10).0, Permit::Run { trial: true });
            b.start(true);
        }
        assert_eq!(b.permit(10).0, Permit::Wait(None));
        b.finish(11, true, false, true);
        b.finish(11, true, false, true);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.finish(11, true, false, true);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn fail_mode_rejects_while_open() {
        let mut b = breaker(r#"{"failureThreshold":1,"resetTimeoutMs":10,"onOpen":"fail"}"#);
        run(&mut b, 0, true);
        assert_eq!(b.permit(5).0, Permit::Reject);
        b.reject();
        assert_eq!(b.snapshot().rejected, 1);
        assert_eq!(b.permit(10).0, Permit::Run { trial: true });
    }

    #[test]
    fn errors_that_do_not_count_leave_it_closed() {
        let mut b = breaker(r#"{"failureThreshold":1}"#);
        let (Permit::Run { trial }, _) = b.permit(0) else {
            panic!()
        };
        b.start(trial);
        assert_eq!(b.finish(0, trial, true, false), None);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn failure_rate_over_a_window_opens_it_once_a_window_has_passed() {
        failsafe::clock::freeze(|time| {
            let mut b = breaker(
                r#"{"failureRate":{"threshold":0.5,"windowMs":1000,"minRequests":4},"resetTimeoutMs":50}"#,
            );
            let mut opened_at_step = None;
            for step in 1..=10 {
                time.advance(Duration::from_millis(200));
                if run(&mut b, 0, true).is_some_and(|t| t.1 == BreakerState::Open) {
                    opened_at_step = Some(step);
                    break;
                }
            }
            // failsafe decides nothing before a whole window (1 s = 5 steps) has passed.
            assert_eq!(opened_at_step, Some(5));
        });
    }

    #[test]
    fn bad_specs_name_the_field() {
        let bad = |json: &str| {
            serde_json::from_str::<BreakerSpec>(json)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string()
        };
        assert!(bad(r#"{"failureThreshold":0}"#).contains("circuitBreaker.failureThreshold"));
        assert!(bad(r#"{"resetTimeoutMs":-1}"#).contains("circuitBreaker.resetTimeoutMs"));
        assert!(bad(r#"{"onOpen":"explode"}"#).contains("'wait' or 'fail'"));
        assert!(bad(r#"{"failureRate":{"threshold":1.5,"windowMs":1000}}"#).contains("threshold"));
        assert!(
            bad(r#"{"failureRate":{"threshold":0.5,"windowMs":1500}}"#).contains("whole seconds")
        );
        assert!(
            bad(r#"{"resetTimeoutMs":100,"maxResetTimeoutMs":50}"#).contains("maxResetTimeoutMs")
        );
        assert!(bad(r#"{"halfOpenTrials":0}"#).contains("halfOpenTrials"));
    }
}

//! Rate limits: at most `limit` task starts per `intervalMs`, with up to `burst` at once
//! (GCRA, by the governor crate), measured on the engine's clock so that tests are
//! deterministic. A task over its limit is not dropped: it waits in line, its attempt
//! untouched, until the limiter has a cell for it.

use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock as GovernorClock, Reference};
use governor::nanos::Nanos;
use governor::{Quota, RateLimiter};
use serde::Deserialize;

use crate::clock::Clock;
use crate::error::{EngineError, Result};
use crate::options::positive_whole_number;

/// How many milliseconds' worth of starts a limit banks by default.
pub const DEFAULT_BURST_MS: u64 = 50;

/// `{ limit, intervalMs, burst }` as given.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimitSpec {
    pub limit: f64,
    pub interval_ms: Option<f64>,
    pub burst: Option<f64>,
}

/// A validated rate: `limit` starts per `interval_ms`, at most `burst` back to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub interval_ms: u64,
    pub burst: u32,
}

impl RateLimitSpec {
    /// `intervalMs` defaults to 1000. `burst` defaults to the starts of 50 ms (at least
    /// 1): enough banked cells that a late timer costs no throughput, few enough that no
    /// interval — the first one included — sees much more than `limit` starts.
    pub fn validate(&self, what: &str) -> Result<Rate> {
        let limit = positive_whole_number(&format!("{what}.limit"), self.limit)?;
        let interval_ms = match self.interval_ms {
            Some(i) => positive_whole_number(&format!("{what}.intervalMs"), i)?,
            None => 1000,
        };
        let burst = match self.burst {
            Some(b) => positive_whole_number(&format!("{what}.burst"), b)?,
            None => (limit * DEFAULT_BURST_MS)
                .div_ceil(interval_ms)
                .clamp(1, limit),
        };
        let too_large = |f: &str| EngineError::invalid(format!("`{what}.{f}` is too large"));
        Ok(Rate {
            limit: u32::try_from(limit).map_err(|_| too_large("limit"))?,
            interval_ms,
            burst: u32::try_from(burst).map_err(|_| too_large("burst"))?,
        })
    }
}

/// Milliseconds on the engine clock, as governor's notion of an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EngineInstant(u64 /* nanoseconds */);

impl Add<Nanos> for EngineInstant {
    type Output = Self;
    fn add(self, other: Nanos) -> Self {
        EngineInstant(self.0 + other.as_u64())
    }
}

impl Reference for EngineInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        self.0.saturating_sub(earlier.0).into()
    }
    fn saturating_sub(&self, duration: Nanos) -> Self {
        EngineInstant(self.0.saturating_sub(duration.as_u64()))
    }
}

/// The engine's clock seen through governor's `Clock` trait.
#[derive(Clone)]
pub struct EngineClock(pub Arc<dyn Clock>);

impl GovernorClock for EngineClock {
    type Instant = EngineInstant;
    fn now(&self) -> EngineInstant {
        EngineInstant(self.0.now_ms().saturating_mul(1_000_000))
    }
}

type Governor = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    EngineClock,
    governor::middleware::NoOpMiddleware<EngineInstant>,
>;

pub struct Limiter {
    rate: Rate,
    governor: Governor,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("rate", &self.rate).finish()
    }
}

impl Limiter {
    pub fn new(rate: Rate, clock: Arc<dyn Clock>) -> Limiter {
        // One cell every interval/limit, up to `burst` cells banked.
        let period = Duration::from_nanos((rate.interval_ms * 1_000_000) / rate.limit as u64)
            .max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(NonZeroU32::new(rate.burst).expect("burst is positive"));
        Limiter {
            rate,
            governor: RateLimiter::direct_with_clock(quota, EngineClock(clock)),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes a cell if one is free now; otherwise returns when the next one frees up
    /// (ms since the epoch, rounded up).
    pub fn try_acquire(&self) -> std::result::Result<(), u64> {
        self.governor.check().map_err(|not_until| {
            let at = not_until.earliest_possible().0;
            at.div_ceil(1_000_000)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn limiter(json: &str) -> (Limiter, ManualClock) {
        let clock = ManualClock::new(1_000_000);
        let spec: RateLimitSpec = serde_json::from_str(json).unwrap();
        (
            Limiter::new(spec.validate("rateLimit").unwrap(), Arc::new(clock.clone())),
            clock,
        )
    }

    /// Drives a limiter with a backlog, taking every free cell once per millisecond, and
    /// returns the starts in each whole second.
    fn starts_per_second(json: &str, seconds: u64) -> Vec<u64> {
        let (l, clock) = limiter(json);
        let mut per_second = vec![0u64; seconds as usize];
        for ms in 0..seconds * 1000 {
            while l.try_acquire().is_ok() {
                per_second[(ms / 1000) as usize] += 1;
            }
            clock.advance(1);
        }
        per_second
    }

    #[test]
    fn every_second_after_the_first_delivers_the_limit() {
        for limit in [100u64, 1_000, 10_000] {
            let counts = starts_per_second(&format!(r#"{{"limit":{limit}}}"#), 5);
            // Every whole second after the first.
            for (s, c) in counts[1..].iter().enumerate() {
                let error = (*c as f64 - limit as f64).abs() / limit as f64;
                assert!(error <= 0.01, "{limit}/s: second {} delivered {c}", s + 1);
            }
            assert!(
                counts[0] as f64 <= limit as f64 * 1.05 + 1.0,
                "{limit}/s: the first second too ({})",
                counts[0]
            );
        }
    }

    #[test]
    fn burst_one_spreads_starts_evenly() {
        let (l, clock) = limiter(r#"{"limit":10,"intervalMs":1000,"burst":1}"#);
        assert!(l.try_acquire().is_ok());
        let next = l.try_acquire().unwrap_err();
        assert_eq!(
            next,
            1_000_000 + 100,
            "the next cell is one period (100 ms) later"
        );
        clock.advance(100);
        assert!(l.try_acquire().is_ok());
    }

    #[test]
    fn interval_other_than_a_second() {
        let counts = starts_per_second(r#"{"limit":50,"intervalMs":500,"burst":1}"#, 3);
        assert_eq!(&counts[1..], &[100, 100]);
    }

    #[test]
    fn default_burst_is_fifty_milliseconds_of_starts() {
        let burst = |json: &str| {
            serde_json::from_str::<RateLimitSpec>(json)
                .unwrap()
                .validate("r")
                .unwrap()
                .burst
        };
        assert_eq!(burst(r#"{"limit":1000}"#), 50);
        assert_eq!(burst(r#"{"limit":100}"#), 5);
        assert_eq!(burst(r#"{"limit":3,"intervalMs":60000}"#), 1);
        assert_eq!(
            burst(r#"{"limit":10,"intervalMs":10}"#),
            10,
            "never more than the limit"
        );
        assert_eq!(burst(r#"{"limit":1000,"burst":7}"#), 7);
    }

    #[test]
    fn bad_specs_name_the_field() {
        let bad = |json: &str| {
            serde_json::from_str::<RateLimitSpec>(json)
                .unwrap()
                .validate("rateLimit")
                .unwrap_err()
                .to_string()
        };
        assert!(bad(r#"{"limit":0}"#).contains("rateLimit.limit"));
        assert!(bad(r#"{"limit":5,"intervalMs":0}"#).contains("rateLimit.intervalMs"));
        assert!(bad(r#"{"limit":5,"intervalMs":-10}"#).contains("rateLimit.intervalMs"));
        assert!(bad(r#"{"limit":5,"burst":0}"#).contains("rateLimit.burst"));
    }
}

//! Retry policy: how many times a failed task is run again and how long it waits first.

use rand::Rng;
use serde::Deserialize;

use crate::error::{EngineError, Result};
use crate::options::whole_number;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Every retry waits `delay_ms`.
    Fixed,
    /// Retry n waits `delay_ms * 2^(n-1)`, capped at `max_delay_ms`.
    Exponential,
}

/// Retry options as given (executor default or per task); unset fields inherit.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetrySpec {
    pub max_retries: Option<f64>,
    pub backoff: Option<String>,
    pub delay_ms: Option<f64>,
    pub max_delay_ms: Option<f64>,
    pub jitter: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 = never retry.
    pub max_retries: u32,
    pub backoff: Backoff,
    pub delay_ms: u64,
    pub max_delay_ms: u64,
    /// Spread each delay uniformly over [delay/2, delay] so that a burst of failures
    /// does not retry in lockstep ("equal jitter").
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 0,
            backoff: Backoff::Exponential,
            delay_ms: 1000,
            max_delay_ms: 3_600_000,
            jitter: false,
        }
    }
}

impl RetrySpec {
    /// Checks every field; `prefix` names where the spec came from in error messages.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        self.overlay(&RetryPolicy::default(), prefix).map(|_| ())
    }

    /// This spec's fields over `base`'s.
    pub fn overlay(&self, base: &RetryPolicy, prefix: &str) -> Result<RetryPolicy> {
        let mut p = base.clone();
        if let Some(n) = self.max_retries {
            let n = whole_number(&format!("{prefix}.maxRetries"), n)?;
            p.max_retries = u32::try_from(n)
                .map_err(|_| EngineError::invalid(format!("`{prefix}.maxRetries` is too large")))?;
        }
        if let Some(b) = &self.backoff {
            p.backoff = match b.as_str() {
                "fixed" => Backoff::Fixed,
                "exponential" => Backoff::Exponential,
                other => {
                    return Err(EngineError::invalid(format!(
                        "`{prefix}.backoff` must be 'fixed' or 'exponential', got '{other}'"
                    )))
                }
            };
        }
        if let Some(d) = self.delay_ms {
            p.delay_ms = whole_number(&format!("{prefix}.delayMs"), d)?;
        }
        if let Some(d) = self.max_delay_ms {
            p.max_delay_ms = whole_number(&format!("{prefix}.maxDelayMs"), d)?;
        }
        if let Some(j) = self.jitter {
            p.jitter = j;
        }
        if p.max_delay_ms < p.delay_ms && self.max_delay_ms.is_some() {
            return Err(EngineError::invalid(format!(
                "`{prefix}.maxDelayMs` ({}) is smaller than `{prefix}.delayMs` ({})",
                p.max_delay_ms, p.delay_ms
            )));
        }
        Ok(p)
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 = the first retry), without jitter.
    pub fn base_delay(&self, retry: u32) -> u64 {
        let raw = match self.backoff {
            Backoff::Fixed => self.delay_ms,
            Backoff::Exponential => {
                let factor = 1u64
                    .checked_shl(retry.saturating_sub(1))
                    .unwrap_or(u64::MAX);
                self.delay_ms.saturating_mul(factor)
            }
        };
        raw.min(self.max_delay_ms.max(self.delay_ms))
    }

    /// The wait before retry number `retry`, jittered if the policy says so.
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> u64 {
        let d = self.base_delay(retry);
        if self.jitter && d > 1 {
            rng.gen_range(d / 2..=d)
        } else {
            d
        }
    }

    /// After failed attempt number `attempt` (1-based): `Some(delay)` to retry, `None` to fail.
    pub fn decide(&self, attempt: u32, non_retryable: bool, rng: &mut impl Rng) -> Option<u64> {
        if non_retryable || attempt > self.max_retries {
            None
        } else {
            Some(self.delay(attempt, rng))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn policy(json: &str) -> Result<RetryPolicy> {
        let spec: RetrySpec = serde_json::from_str(json).unwrap();
        spec.overlay(&RetryPolicy::default(), "retry")
    }

    #[test]
    fn exponential_doubles_and_caps() {
        let p =
            policy(r#"{"maxRetries":10,"backoff":"exponential","delayMs":100,"maxDelayMs":1000}"#)
                .unwrap();
        let d: Vec<u64> = (1..=6).map(|r| p.base_delay(r)).collect();
        assert_eq!(d, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.base_delay(200), 1000, "no overflow on huge retry numbers");
    }

    #[test]
    fn fixed_is_constant() {
        let p = policy(r#"{"maxRetries":3,"backoff":"fixed","delayMs":250}"#).unwrap();
        assert_eq!(
            (1..=3).map(|r| p.base_delay(r)).collect::<Vec<_>>(),
            vec![250, 250, 250]
        );
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let p =
            policy(r#"{"maxRetries":3,"backoff":"fixed","delayMs":1000,"jitter":true}"#).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let samples: Vec<u64> = (0..1000).map(|_| p.delay(1, &mut rng)).collect();
        assert!(samples.iter().all(|d| (500..=1000).contains(d)));
        assert!(samples.iter().any(|d| *d < 750), "jitter actually spreads");
    }

    #[test]
    fn decide_counts_attempts_and_honours_non_retryable() {
        let p = policy(r#"{"maxRetries":2,"backoff":"fixed","delayMs":10}"#).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(p.decide(1, false, &mut rng), Some(10));
        assert_eq!(p.decide(2, false, &mut rng), Some(10));
        assert_eq!(p.decide(3, false, &mut rng), None);
        assert_eq!(p.decide(1, true, &mut rng), None);
    }

    #[test]
    fn task_spec_overlays_executor_default() {
        let base = policy(r#"{"maxRetries":5,"delayMs":50}"#).unwrap();
        let spec: RetrySpec = serde_json::from_str(r#"{"backoff":"fixed"}"#).unwrap();
        let p = spec.overlay(&base, "retry").unwrap();
        assert_eq!(
            (p.max_retries, p.delay_ms, p.backoff),
            (5, 50, Backoff::Fixed)
        );
    }

    #[test]
    fn bad_specs_name_the_field() {
        let e = policy(r#"{"backoff":"linear"}"#).unwrap_err().to_string();
        assert!(e.contains("retry.backoff") && e.contains("linear"), "{e}");
        assert!(policy(r#"{"maxRetries":-1}"#)
            .unwrap_err()
            .to_string()
            .contains("retry.maxRetries"));
        assert!(policy(r#"{"delayMs":1.5}"#).is_err());
        assert!(policy(r#"{"delayMs":100,"maxDelayMs":10}"#).is_err());
    }
}

//! What this process's engine counted, per task definition: outcomes, waits held back by
//! rate limits, breaker transitions, and histograms of wait time (ready → started) and
//! run time. Plain integers bumped where the engine decides, so metrics are always on and
//! cost a few increments per run. Depth by state is not here: it comes from the store.

use serde::Serialize;

/// Upper bounds of the histogram buckets, in seconds (the last bucket is +Inf).
pub const BUCKETS_SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// A histogram over fixed buckets: counts per bucket (not cumulative), count and sum.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Histogram {
    /// Observations per bucket, `BUCKETS_SECONDS` then +Inf.
    pub counts: [u64; BUCKETS_SECONDS.len() + 1],
    pub count: u64,
    /// Sum of the observations in seconds.
    pub sum: f64,
}

impl Histogram {
    pub fn observe_ms(&mut self, ms: u64) {
        let s = ms as f64 / 1000.0;
        let i = BUCKETS_SECONDS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS_SECONDS.len());
        self.counts[i] += 1;
        self.count += 1;
        self.sum += s;
    }

    /// The `q` quantile (0..1), interpolated within its bucket the way Prometheus's
    /// `histogram_quantile` does; None without observations. In the +Inf bucket it is
    /// the highest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q * self.count as f64;
        let mut below = 0u64;
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let Some(&upper) = BUCKETS_SECONDS.get(i) else {
                    return Some(BUCKETS_SECONDS[BUCKETS_SECONDS.len() - 1]);
                };
                let lower = if i == 0 { 0.0 } else { BUCKETS_SECONDS[i - 1] };
                return Some(lower + (upper - lower) * ((rank - below as f64) / n as f64).clamp(0.0, 1.0));
            }
            below += n;
        }
        Some(BUCKETS_SECONDS[BUCKETS_SECONDS.len() - 1])
    }
}

/// One task definition's counters and histograms.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefMetrics {
    /// Runs that ended SUCCESS.
    pub completed: u64,
    /// Tasks that ended FAILURE (after their last attempt, or refused by an open breaker).
    pub failed: u64,
    /// Failed runs that were scheduled to run again.
    pub retried: u64,
    /// Tasks that ended REVOKED.
    pub cancelled: u64,
    /// Runs that exceeded their `timeoutMs` (each also counts as failed or retried).
    pub timed_out: u64,
    /// Times a ready task was held back by a rate limit (its own, its queue's, the executor's).
    pub rate_limited: u64,
    /// Circuit breaker transitions (closed → open, open → half-open, …).
    pub breaker_transitions: u64,
    /// Ready (due) → started, per run.
    pub wait: Histogram,
    /// Started → finished, per run.
    pub run: Histogram,
}

/// How a run ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Completed,
    Failed,
    Retried,
    Cancelled,
}

/// Counters of every definition, by definition index. Off (`metrics: false`), nothing
/// is counted and every call returns at once.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub enabled: bool,
    pub defs: Vec<DefMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics { enabled: true, defs: Vec::new() }
    }
}

impl Metrics {
    fn def(&mut self, def: u32) -> &mut DefMetrics {
        let i = def as usize;
        if self.defs.len() <= i {
            self.defs.resize_with(i + 1, Default::default);
        }
        &mut self.defs[i]
    }

    /// A run started `wait_ms` after its task was ready (or due).
    pub fn started(&mut self, def: u32, wait_ms: u64) {
        if self.enabled {
            self.def(def).wait.observe_ms(wait_ms);
        }
    }

    /// A run ended after `run_ms`; `timed_out`: it exceeded its `timeoutMs`.
    pub fn finished(&mut self, def: u32, end: RunEnd, run_ms: u64, timed_out: bool) {
        if !self.enabled {
            return;
        }
        let m = self.def(def);
        m.run.observe_ms(run_ms);
        m.timed_out += timed_out as u64;
        Self::count(m, end);
    }

    /// A task ended without running: cancelled while it waited, or refused by an open breaker.
    pub fn ended_unrun(&mut self, def: u32, end: RunEnd) {
        if self.enabled {
            Self::count(self.def(def), end);
        }
    }

    pub fn rate_limited(&mut self, def: u32) {
        if self.enabled {
            self.def(def).rate_limited += 1;
        }
    }

    pub fn breaker_transition(&mut self, def: u32) {
        if self.enabled {
            self.def(def).breaker_transitions += 1;
        }
    }

    fn count(m: &mut DefMetrics, end: RunEnd) {
        match end {
            RunEnd::Completed => m.completed += 1,
            RunEnd::Failed => m.failed += 1,
            RunEnd::Retried => m.retried += 1,
            RunEnd::Cancelled => m.cancelled += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_quantiles() {
        let mut h = Histogram::default();
        for ms in [0, 1, 2, 3, 4, 40, 40, 40, 900, 120_000] {
            h.observe_ms(ms);
        }
        assert_eq!(h.count, 10);
        assert_eq!(h.counts[0], 2, "0 and 1 ms are ≤ 1 ms");
        assert_eq!(h.counts[1], 1, "2 ms ≤ 2.5 ms");
        assert_eq!(h.counts[2], 2, "3 and 4 ms ≤ 5 ms");
        assert_eq!(h.counts[5], 3, "40 ms ≤ 50 ms");
        assert_eq!(h.counts[9], 1, "900 ms ≤ 1 s");
        assert_eq!(h.counts[14], 1, "2 min in +Inf");
        assert!((h.sum - 121.03).abs() < 1e-9, "sum {}", h.sum);
        let p50 = h.quantile(0.5).unwrap();
        // The 5th of 10 observations is the 4 ms one: the (2.5 ms, 5 ms] bucket.
        assert!(p50 > 0.0025 && p50 <= 0.005, "p50 {p50}");
        let p90 = h.quantile(0.9).unwrap();
        assert!(p90 > 0.5 && p90 <= 1.0, "p90 {p90} in the 1 s bucket");
        assert_eq!(h.quantile(0.99), Some(60.0), "the +Inf bucket reports the top bound");
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}

//! A store's background thread meets a failing write (disk full, corruption, a server
//! that refuses a command): the user hears of it once per episode, not once per retry,
//! and the thread backs off instead of spinning. Shared by every durable store.

use std::time::Duration;

/// First wait after a failure; it doubles on every failure in a row, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One run of failures in a row, from the first failure to the next success.
#[derive(Debug, Default)]
pub struct FaultEpisode {
    failures: u32,
}

impl FaultEpisode {
    /// Whether an episode is going on.
    pub fn failing(&self) -> bool {
        self.failures > 0
    }

    /// Records a failure; true when it starts an episode (the one time it is reported).
    pub fn failed(&mut self) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.failures == 1
    }

    /// Records a success; true when it ends an episode.
    pub fn succeeded(&mut self) -> bool {
        std::mem::take(&mut self.failures) > 0
    }

    /// How long to wait before the next try: nothing outside an episode, then doubling.
    pub fn backoff(&self) -> Duration {
        if self.failures == 0 {
            return Duration::ZERO;
        }
        let doublings = (self.failures - 1).min(16);
        (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_once_per_episode_and_backs_off_to_a_ceiling() {
        let mut e = FaultEpisode::default();
        assert_eq!(e.backoff(), Duration::ZERO);
        assert!(e.failed(), "the first failure starts the episode");
        assert!(!e.failed(), "later failures are the same episode");
        assert_eq!(e.backoff(), Duration::from_millis(100));
        for _ in 0..40 {
            e.failed();
        }
        assert_eq!(e.backoff(), MAX_BACKOFF);
        assert!(e.succeeded());
        assert!(!e.failing());
        assert!(!e.succeeded(), "a success outside an episode ends nothing");
        assert!(e.failed(), "a new failure starts a new episode");
    }
}

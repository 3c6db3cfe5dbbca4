//! The writer's clocks: lease renewal (a third of the lease), maintenance (recovery of
//! dead workers' tasks, retention: once a second), the outlook (at most every 20 ms
//! while work streams through) and the listener registration (once a second).

/// How often maintenance (recovery, retention) runs.
pub const MAINTENANCE_EVERY_MS: u64 = 1_000;
/// How often the outlook is worked out at most while claims and outcomes stream through.
pub const OUTLOOK_EVERY_MS: u64 = 20;
/// How often listener registrations are renewed and looked at.
pub const LISTENERS_EVERY_MS: u64 = 1_000;
/// How long a listener registration lasts unless renewed.
pub const LISTENER_TTL_MS: u64 = 5_000;

/// When each chore last ran (ms since the epoch; 0: never, so each is due at once).
#[derive(Debug, Default)]
pub struct Chores {
    lease_ms: u64,
    last_heartbeat: u64,
    last_maintenance: u64,
    last_outlook: u64,
    last_listeners: u64,
}

impl Chores {
    pub fn new(lease_ms: u64) -> Self {
        Chores {
            lease_ms,
            ..Default::default()
        }
    }

    /// The lease is renewed a third of the way through, so that two missed rounds still
    /// leave it alive.
    pub fn heartbeat_due(&self, now: u64) -> bool {
        now >= self.last_heartbeat + self.lease_ms / 3
    }

    pub fn maintenance_due(&self, now: u64) -> bool {
        now >= self.last_maintenance + MAINTENANCE_EVERY_MS
    }

    pub fn outlook_due(&self, now: u64) -> bool {
        now >= self.last_outlook + OUTLOOK_EVERY_MS
    }

    pub fn listeners_due(&self, now: u64) -> bool {
        now >= self.last_listeners + LISTENERS_EVERY_MS
    }

    /// How long until the next chore (for a writer's sleep): the listeners' and, for a
    /// worker, the heartbeat and maintenance.
    pub fn next_in(&self, now: u64, worker: bool) -> u64 {
        let listeners = (self.last_listeners + LISTENERS_EVERY_MS).saturating_sub(now);
        if !worker {
            return listeners;
        }
        let heartbeat = (self.last_heartbeat + self.lease_ms / 3).saturating_sub(now);
        let maintenance = (self.last_maintenance + MAINTENANCE_EVERY_MS).saturating_sub(now);
        heartbeat.min(maintenance).min(listeners)
    }

    /// Records the chores a round that succeeded at `now` did.
    pub fn ran(&mut self, now: u64, heartbeat: bool, maintenance: bool) {
        if heartbeat {
            self.last_heartbeat = now;
        }
        if maintenance {
            self.last_maintenance = now;
        }
    }

    pub fn outlook_ran(&mut self, now: u64) {
        self.last_outlook = now;
    }

    pub fn listeners_ran(&mut self, now: u64) {
        self.last_listeners = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chore_is_due_at_first_and_then_on_its_own_period() {
        const T: u64 = 1_800_000_000_000;
        let mut c = Chores::new(30_000);
        assert!(c.heartbeat_due(T) && c.maintenance_due(T) && c.outlook_due(T) && c.listeners_due(T));
        c.ran(T, true, true);
        c.outlook_ran(T);
        c.listeners_ran(T);
        assert!(!c.heartbeat_due(T + 9_999) && c.heartbeat_due(T + 10_000), "a third of the lease");
        assert!(!c.maintenance_due(T + 999) && c.maintenance_due(T + 1_000));
        assert!(!c.outlook_due(T + 19) && c.outlook_due(T + 20));
        assert!(!c.listeners_due(T + 999) && c.listeners_due(T + 1_000));
        assert_eq!(c.next_in(T + 500, true), 500);
        c.listeners_ran(T + 400);
        assert_eq!(c.next_in(T + 500, false), 900, "a producer only has the listeners");
        c.ran(T + 1_000, false, true);
        assert!(c.heartbeat_due(T + 10_000), "a round without the heartbeat leaves it due");
    }
}

//! The stale-mark handshake. When the host's lines change (or it commits behind the
//! writer's back) it marks the outlook stale, and reads "maybe there is work" until a
//! writer has worked the outlook out again. A writer may clear the mark only if no
//! other mark came since it took its ops in: that mark's op may not be among them, and
//! clearing it would tell the host "no work" for lines the writer has not seen yet.

use std::sync::atomic::Ordering;

use crate::store::protocol::Shared;

#[derive(Debug, Default)]
pub struct StaleMarks {
    /// `Shared::stale_marks` when this round's ops were taken in.
    taken: u64,
    /// A mark came during the last round: work the outlook out again at once.
    pub recheck: bool,
}

impl StaleMarks {
    /// Before taking ops in.
    pub fn before_intake(&mut self, shared: &Shared) {
        self.taken = shared.stale_marks.load(Ordering::SeqCst);
    }

    /// Whether this round must treat the lines as changed: a recheck is owed. Clears it.
    pub fn owed(&mut self) -> bool {
        std::mem::take(&mut self.recheck)
    }

    /// After a round worked the outlook out with `names_changed`: clears the host's mark
    /// when that is safe (then returns whether it was set: the host saw "maybe" and
    /// wants telling), or owes a recheck.
    pub fn outlook_done(&mut self, shared: &Shared, names_changed: bool) -> bool {
        if !names_changed {
            return false;
        }
        if shared.stale_marks.load(Ordering::SeqCst) != self.taken {
            self.recheck = true;
            return false;
        }
        shared.outlook_stale.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_that_came_during_the_round_is_not_cleared() {
        let shared = Shared::default();
        let mut m = StaleMarks::default();
        shared.mark_stale(|| {});
        m.before_intake(&shared);
        assert!(m.outlook_done(&shared, true), "the host saw 'maybe': tell it");
        assert!(!shared.outlook_stale.load(Ordering::SeqCst));
        m.before_intake(&shared);
        shared.mark_stale(|| {}); // its op is not in this round
        assert!(!m.outlook_done(&shared, true));
        assert!(shared.outlook_stale.load(Ordering::SeqCst), "still stale");
        assert!(m.owed(), "a recheck is owed");
        assert!(!m.owed());
    }
}

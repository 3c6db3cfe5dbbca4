//! What becomes of an op whose round failed (disk full, Redis unreachable, a refused
//! command). Changes to tasks this worker holds are kept and tried again on the next
//! round (the tasks stay leased to this live worker meanwhile). Submits and flushes are
//! answered with the error, so their callers know (nothing acknowledged is ever lost).
//! When the worker stops with writes still failing, it lets them go: its lease expires
//! and another worker runs those tasks again.

use crate::store::protocol::{Op, Reply};

/// Whether a failed round keeps `op` for the next one.
pub fn kept(op: &Op) -> bool {
    matches!(
        op,
        Op::Finish { .. }
            | Op::Retry { .. }
            | Op::Started { .. }
            | Op::Release { .. }
            | Op::Progress { .. }
            | Op::Status { .. }
            | Op::Log { .. }
    )
}

/// The answer for an op that is not kept: a submit or a flush is rejected with `error`,
/// an outcome is let go (its slot freed; the lease recovers the task), a claim request
/// is answered with nothing. Bookkeeping ops and events need none.
pub fn let_go(op: Op, error: impl FnOnce() -> String) -> Option<Reply> {
    match op {
        Op::Insert { ticket, .. } | Op::Flush { ticket } => Some(Reply::Rejected {
            ticket,
            error: error(),
        }),
        Op::Finish { slot, .. } => Some(Reply::Settled(vec![slot])),
        Op::Retry { slot, .. } => Some(Reply::Requeued(vec![slot])),
        Op::Adopt { .. } => Some(Reply::Adopted(Vec::new())),
        _ => None,
    }
}

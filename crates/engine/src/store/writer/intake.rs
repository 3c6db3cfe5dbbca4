//! Taking in a round's worth of messages: wait for the first (or the timeout), then take
//! everything else already queued, up to a bound, so that one round carries a whole
//! burst (group commit).

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use crate::store::protocol::{Op, Shared};

/// The most messages taken into one round.
pub const MAX_BATCH: usize = 8_192;

/// Appends to `into` what arrives within `wait`, then what is already queued. With a
/// `spin`, polls that long before sleeping: right after a commit the host usually
/// answers within microseconds, and polling spares a wake-up each way. Returns false
/// once the sending side is gone.
pub fn take<M>(rx: &Receiver<M>, wait: Duration, spin: Option<Duration>, into: &mut Vec<M>) -> bool {
    let mut first = None;
    if let Some(spin) = spin {
        let until = Instant::now() + spin;
        while first.is_none() && Instant::now() < until {
            match rx.try_recv() {
                Ok(m) => first = Some(m),
                Err(TryRecvError::Empty) => std::thread::yield_now(),
                Err(TryRecvError::Disconnected) => break,
            }
        }
    }
    let received = match first {
        Some(m) => Ok(m),
        None => rx.recv_timeout(wait),
    };
    let mut open = true;
    match received {
        Ok(m) => into.push(m),
        Err(RecvTimeoutError::Timeout) => {}
        Err(RecvTimeoutError::Disconnected) => open = false,
    }
    while into.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(m) => into.push(m),
            Err(_) => break,
        }
    }
    open
}

/// Claimed tasks the host left untaken for `hold_ms` (its thread is blocked): a Release
/// of them, so that other workers can run them. The standing claim is withdrawn then
/// (`clear_parked`): the host asks again once it is back.
pub fn recall(shared: &Shared, hold_ms: u64, clear_parked: impl FnOnce()) -> Option<Op> {
    let ids = shared.recall_untaken(hold_ms);
    if ids.is_empty() {
        return None;
    }
    clear_parked();
    Some(Op::Release { ids })
}

/// How long a writer may sleep before the untaken claims come up for recall.
pub fn recall_wait(shared: &Shared, hold_ms: u64, wait: u64) -> u64 {
    match shared.recall_due_in(hold_ms) {
        Some(due) => wait.min(due),
        None => wait,
    }
}

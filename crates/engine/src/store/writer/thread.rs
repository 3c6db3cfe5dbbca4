//! The writer loop every durable store runs on its background thread, and the state it
//! keeps for any store. A store supplies only what is its own ([`Round`]): how long it
//! may sleep, what its other messages mean (Redis: the subscriber's notices), and its
//! round (SQLite: one transaction; Redis: one pipeline).

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use super::chores::Chores;
use super::claims::ParkedClaim;
use super::{failure, intake};
use super::outlook::StaleMarks;
use crate::clock::Clock;
use crate::store::protocol::{Op, Reply, Shared};

/// What a writer keeps whatever its store.
pub struct Core {
    pub shared: Arc<Shared>,
    pub clock: Arc<dyn Clock>,
    pub claim: ParkedClaim,
    pub chores: Chores,
    pub marks: StaleMarks,
    /// Writes whose round failed, tried again in the next (see `failure`).
    pub carry: Vec<Op>,
    /// Claims left untaken by the host this long are released (`Shared::recall_untaken`).
    pub claim_hold_ms: u64,
}

impl Core {
    pub fn new(shared: Arc<Shared>, clock: Arc<dyn Clock>, lease_ms: u64, claim_hold_ms: u64) -> Core {
        Core {
            shared,
            clock,
            claim: ParkedClaim::default(),
            chores: Chores::new(lease_ms),
            marks: StaleMarks::default(),
            carry: Vec::new(),
            claim_hold_ms,
        }
    }
}

impl Core {
    /// An op whose round failed (see `failure`): changes to held tasks are kept for the
    /// next round, a claim request stays standing, anything else is answered (a submit
    /// or flush rejected with `error`). Stopping, nothing is kept: outcomes are let go
    /// (the lease recovers their tasks) and the claim request is answered empty.
    pub fn failed(&mut self, op: Op, stopping: bool, error: impl FnOnce() -> String) -> Option<Reply> {
        if stopping {
            return failure::let_go(op, error);
        }
        match op {
            op if failure::kept(&op) => self.carry.push(op),
            Op::Adopt { wants, limit } => self.claim.keep((wants, limit)),
            op => return failure::let_go(op, error),
        }
        None
    }
}

/// A message on a writer's channel: an op from the engine, or something of the store's
/// own (`Notice`).
pub enum Incoming<N> {
    Op(Op),
    Notice(N),
}

/// A durable store's side of its writer thread.
pub trait Round {
    /// What else arrives on the channel besides ops.
    type Notice;

    fn core(&mut self) -> &mut Core;

    /// How long the intake may wait for a message before a round runs anyway (ms).
    fn wait_ms(&mut self, now: u64) -> u64;

    /// Polls this long before sleeping (a store whose host answers within microseconds).
    fn spin(&self) -> Option<Duration> {
        None
    }

    /// Takes in a message that is not an op.
    fn notice(&mut self, notice: Self::Notice, replies: &mut Vec<Reply>);

    /// One round: the carried writes and this intake's ops (`ops`), at `now`. It may
    /// find nothing to do and return at once.
    fn round(&mut self, ops: Vec<Op>, now: u64, stopping: bool, replies: &mut Vec<Reply>);

    /// After the last round, before the host is woken for the last time.
    fn stopped(&mut self) {}
}

/// Runs `store`'s writer until the engine sends `Stop` or goes away. Each turn: wait
/// for messages (or the store's timeout), take in everything queued, recall claims the
/// host left untaken, run one round, deliver its replies.
pub fn run<R, M>(mut store: R, rx: Receiver<M>)
where
    R: Round,
    M: Into<Incoming<R::Notice>>,
{
    let mut stop = false;
    let mut msgs: Vec<M> = Vec::new();
    while !stop {
        let now = store.core().clock.now_ms();
        let wait = store.wait_ms(now);
        let core = store.core();
        let wait = intake::recall_wait(&core.shared, core.claim_hold_ms, wait);
        // Before taking ops in: a stale mark counted after this comes with an op that
        // may not be among them (see `Shared::mark_stale`).
        core.marks.before_intake(&core.shared);
        let spin = store.spin();
        if !intake::take(&rx, Duration::from_millis(wait), spin, &mut msgs) {
            stop = true;
        }
        let mut ops = std::mem::take(&mut store.core().carry);
        let mut replies = Vec::new();
        for m in msgs.drain(..) {
            match m.into() {
                Incoming::Op(Op::Stop) => stop = true,
                Incoming::Op(op) => ops.push(op),
                Incoming::Notice(n) => store.notice(n, &mut replies),
            }
        }
        let core = store.core();
        let claim = &mut core.claim;
        ops.extend(intake::recall(&core.shared, core.claim_hold_ms, || claim.clear()));
        let now = core.clock.now_ms();
        store.round(ops, now, stop, &mut replies);
        store.core().shared.deliver(replies);
    }
    store.stopped();
    store.core().shared.wake();
}

impl<N> From<Op> for Incoming<N> {
    fn from(op: Op) -> Self {
        Incoming::Op(op)
    }
}

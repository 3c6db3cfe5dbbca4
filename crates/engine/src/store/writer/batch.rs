//! What a round's ops ask for besides writes, read once for every store: the claim
//! request, flushes, new names and retention, pokes, and which "started" marks are moot
//! because the task's outcome is in the same batch.

use rustc_hash::FxHashSet;

use crate::store::protocol::{Line, Op, Want};
use crate::task::TaskId;

/// A round's ops with what they ask for worked out.
#[derive(Debug, Default)]
pub struct Batch {
    pub ops: Vec<Op>,
    /// The last claim request in the batch (it replaces any before it).
    pub request: Option<(Vec<Want>, u32)>,
    /// Tickets to answer once everything before them is committed.
    pub flushes: Vec<u64>,
    /// The lines this worker runs, when the batch changed them.
    pub names: Option<Vec<Line>>,
    /// Per-name retention, when the batch changed it.
    pub retention: Option<Vec<(String, usize, Option<u64>)>>,
    /// Something may have changed behind the writer's back: look for work, redo the outlook.
    pub poked: bool,
    /// Tasks are inserted (and some of them delayed).
    pub inserted: bool,
    pub inserted_delayed: bool,
    /// Tasks that leave this worker in this round: an outcome, a retry or a release.
    pub leaving: FxHashSet<TaskId>,
    /// Started marks still worth writing (the task's outcome is not in this batch: one
    /// write per task, not two), by row number and by id, and when the last came.
    pub started_seqs: Vec<i64>,
    pub started_ids: Vec<TaskId>,
    pub started_at: u64,
    /// Slots whose outcome / retry this batch writes (answered Settled / Requeued).
    pub settled: Vec<u32>,
    pub requeued: Vec<u32>,
    /// Tasks released back to their lines.
    pub released: Vec<TaskId>,
}

impl Batch {
    /// Reads `ops` (taken in at `now`).
    pub fn new(ops: Vec<Op>, now: u64) -> Batch {
        let mut b = Batch {
            started_at: now,
            ..Default::default()
        };
        for op in &ops {
            match op {
                Op::Insert { tasks, .. } => {
                    b.inserted = true;
                    b.inserted_delayed |= tasks.iter().any(|t| t.run_at > now);
                }
                Op::Adopt { wants, limit } => b.request = Some((wants.clone(), *limit)),
                Op::Finish { slot, id, .. } => {
                    b.settled.push(*slot);
                    b.leaving.insert(*id);
                }
                Op::Retry { slot, id, .. } => {
                    b.requeued.push(*slot);
                    b.leaving.insert(*id);
                }
                Op::Release { ids } => {
                    b.released.extend(ids.iter().copied());
                    b.leaving.extend(ids.iter().copied());
                }
                Op::Names(names) => b.names = Some(names.clone()),
                Op::Retention(own) => b.retention = Some(own.clone()),
                Op::Poke => b.poked = true,
                Op::Flush { ticket } => b.flushes.push(*ticket),
                Op::Started { .. }
                | Op::Progress { .. }
                | Op::Status { .. }
                | Op::Log { .. }
                | Op::Events { .. }
                | Op::Stop => {}
            }
        }
        for op in &ops {
            if let Op::Started { seqs, ids, at } = op {
                // Ids and row numbers are parallel: the id tells whether the task leaves.
                for (seq, id) in seqs.iter().zip(ids) {
                    if !b.leaving.contains(id) {
                        b.started_seqs.push(*seq);
                        b.started_ids.push(*id);
                    }
                }
                b.started_at = *at;
            }
        }
        b.ops = ops;
        b
    }

    /// The outlook must be worked out anew: the lines changed, or the host was told the
    /// outlook is stale.
    pub fn names_changed(&self) -> bool {
        self.names.is_some() || self.poked
    }

    /// The request withdraws the standing claim (an empty list).
    pub fn withdraws(&self) -> bool {
        self.request.as_ref().is_some_and(|(w, _)| w.is_empty())
    }

    /// The batch changes tasks (beyond bookkeeping): something for the round to write.
    pub fn writes(&self) -> bool {
        self.ops.iter().any(|op| {
            !matches!(
                op,
                Op::Adopt { .. } | Op::Names(_) | Op::Retention(_) | Op::Poke | Op::Flush { .. } | Op::Stop
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskState;

    fn id(n: u128) -> TaskId {
        uuid::Uuid::from_u128(n)
    }

    fn finish(slot: u32, seq: i64, n: u128) -> Op {
        Op::Finish {
            slot,
            seq,
            id: id(n),
            state: TaskState::Success,
            attempt: 1,
            result: None,
            error: None,
            started_at: 5,
            at: 6,
        }
    }

    #[test]
    fn a_started_mark_is_moot_when_the_outcome_is_in_the_same_batch() {
        let ops = vec![
            Op::Started { seqs: vec![1, 2, 3], ids: vec![id(1), id(2), id(3)], at: 5 },
            finish(0, 2, 2),
            Op::Release { ids: vec![id(3)] },
        ];
        let b = Batch::new(ops, 9);
        assert_eq!(b.started_seqs, vec![1]);
        assert_eq!(b.started_ids, vec![id(1)]);
        assert_eq!(b.started_at, 5);
        assert_eq!(b.settled, vec![0]);
        assert_eq!(b.released, vec![id(3)]);
        assert!(b.leaving.contains(&id(2)) && b.leaving.contains(&id(3)));
    }

    #[test]
    fn the_last_claim_request_wins_and_bookkeeping_is_not_a_write() {
        let want = |n: &str| Want {
            def: 0,
            name: n.into(),
            queue: "default".into(),
            max: 1,
            max_parallel: None,
            rate: None,
        };
        let ops = vec![
            Op::Adopt { wants: vec![want("a")], limit: 4 },
            Op::Flush { ticket: 7 },
            Op::Adopt { wants: vec![], limit: 0 },
            Op::Poke,
        ];
        let b = Batch::new(ops, 1);
        assert!(b.withdraws());
        assert_eq!(b.flushes, vec![7]);
        assert!(b.names_changed());
        assert!(!b.writes());
        assert!(Batch::new(vec![finish(1, 1, 1)], 1).writes());
    }
}

//! The in-memory store: task records in a slab, one priority heap of ready tasks per
//! queue, one heap of delayed tasks ordered by due time.
//!
//! Heaps use lazy deletion: cancelling a task only changes its record; a heap entry is
//! valid while its `seq` equals the record's (every re-enqueue takes a fresh `seq`).
//! That keeps cancel O(1) and claim O(log n).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashMap;
use serde::Serialize;
use slab::Slab;

use crate::task::{TaskError, TaskId, TaskState};

/// One line a handler logged through `ctx.log`.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub time: u64,
    pub level: String,
    pub message: String,
}

/// Fields most tasks never use, boxed so that a queued task stays small.
#[derive(Debug, Default, Clone)]
pub struct Extra {
    pub error: Option<TaskError>,
    pub progress: Option<f64>,
    pub progress_message: Option<String>,
    pub status: Option<String>,
    pub logs: Vec<LogEntry>,
    pub key: Option<String>,
}

/// A task as the memory store keeps it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: TaskId,
    /// Index of the task's definition in the registry.
    pub def: u32,
    pub queue: u32,
    pub state: TaskState,
    pub priority: i32,
    /// Attempts started so far (1 while the first attempt runs).
    pub attempt: u32,
    /// Position in FIFO order; renewed on every enqueue, identifies heap entries.
    pub seq: u64,
    /// Earliest run time in ms, 0 = now.
    pub run_at: u64,
    pub created_at: u64,
    pub started_at: u64,
    pub completed_at: u64,
    pub payload: Box<str>,
    /// JSON text of the handler's return value.
    pub result: Option<Box<str>>,
    /// Someone awaits this task's outcome: report it when it settles.
    pub watched: bool,
    /// `cancel()` was called while the task was running.
    pub cancel_requested: bool,
    pub extra: Option<Box<Extra>>,
}

impl Record {
    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }
    pub fn error(&self) -> Option<&TaskError> {
        self.extra.as_ref().and_then(|e| e.error.as_ref())
    }
    pub fn key(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.key.as_deref())
    }
}

/// A ready task's place in its queue: higher priority first, then FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadyEntry {
    priority: i32,
    seq: u64,
    slot: u32,
}

impl Ord for ReadyEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}
impl PartialOrd for ReadyEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Slab<Record>,
    by_id: FxHashMap<TaskId, u32>,
    by_key: FxHashMap<String, u32>,
    /// Ready heaps, indexed by queue number.
    ready: Vec<BinaryHeap<ReadyEntry>>,
    /// Tasks popped while their definition was at `maxParallel`, indexed by definition.
    parked: Vec<BinaryHeap<ReadyEntry>>,
    delayed: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// Finished tasks in completion order (slot, seq, completed_at), for retention.
    finished: VecDeque<(u32, u64, u64)>,
    next_seq: u64,
    /// Tasks not yet final (PENDING, RECEIVED, STARTED, RETRY).
    live: usize,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn ensure_queue(&mut self, queue: u32) {
        if self.ready.len() <= queue as usize {
            self.ready.resize_with(queue as usize + 1, BinaryHeap::new);
        }
    }

    fn ensure_def(&mut self, def: u32) {
        if self.parked.len() <= def as usize {
            self.parked.resize_with(def as usize + 1, BinaryHeap::new);
        }
    }

    /// Inserts a new PENDING task and queues it (ready, or delayed until `run_at`).
    pub fn insert(&mut self, mut record: Record, now: u64) -> u32 {
        record.seq = self.take_seq();
        let id = record.id;
        let key = record.key().map(str::to_owned);
        let slot = self.records.insert(record) as u32;
        self.by_id.insert(id, slot);
        if let Some(k) = key {
            self.by_key.insert(k, slot);
        }
        self.live += 1;
        self.schedule(slot, now);
        slot
    }

    /// Puts a PENDING / RETRY task where it waits: a ready heap or the delayed heap.
    fn schedule(&mut self, slot: u32, now: u64) {
        let r = &self.records[slot as usize];
        let (queue, def, entry, run_at) =
            (r.queue, r.def, ReadyEntry { priority: r.priority, seq: r.seq, slot }, r.run_at);
        self.ensure_queue(queue);
        self.ensure_def(def);
        if run_at > now {
            self.delayed.push(Reverse((run_at, entry.seq, slot)));
        } else {
            self.ready[queue as usize].push(entry);
        }
    }

    /// Re-queues a task (a retry) with a fresh FIFO position.
    pub fn requeue(&mut self, slot: u32, run_at: u64, now: u64) {
        let seq = self.take_seq();
        let r = &mut self.records[slot as usize];
        r.seq = seq;
        r.run_at = run_at;
        self.schedule(slot, now);
    }

    fn entry_is_live(&self, slot: u32, seq: u64) -> bool {
        match self.records.get(slot as usize) {
            Some(r) => r.seq == seq && matches!(r.state, TaskState::Pending | TaskState::Retry),
            None => false,
        }
    }

    /// Moves every delayed task due at `now` to its ready heap.
    pub fn promote_due(&mut self, now: u64) {
        while let Some(Reverse((due, seq, slot))) = self.delayed.peek().copied() {
            if due > now {
                break;
            }
            self.delayed.pop();
            if self.entry_is_live(slot, seq) {
                let r = &self.records[slot as usize];
                let (q, e) = (r.queue, ReadyEntry { priority: r.priority, seq, slot });
                self.ready[q as usize].push(e);
            }
        }
    }

    /// When the earliest delayed task is due, if any.
    pub fn next_due(&mut self) -> Option<u64> {
        while let Some(Reverse((due, seq, slot))) = self.delayed.peek().copied() {
            if self.entry_is_live(slot, seq) {
                return Some(due);
            }
            self.delayed.pop();
        }
        None
    }

    /// Pops the best ready task across `queues`, skipping stale entries. Tasks whose
    /// definition `admit` refuses are parked until `unpark` is called for it.
    pub fn pop_ready(&mut self, queues: &[u32], admit: &mut dyn FnMut(u32) -> bool) -> Option<u32> {
        loop {
            let mut best: Option<(usize, ReadyEntry)> = None;
            for &q in queues {
                let Some(heap) = self.ready.get_mut(q as usize) else { continue };
                // Drop stale tops so that the comparison sees live entries.
                while let Some(top) = heap.peek().copied() {
                    let live = self
                        .records
                        .get(top.slot as usize)
                        .is_some_and(|r| r.seq == top.seq && matches!(r.state, TaskState::Pending | TaskState::Retry));
                    if live {
                        break;
                    }
                    heap.pop();
                }
                if let Some(top) = heap.peek().copied() {
                    if best.is_none_or(|(_, b)| top > b) {
                        best = Some((q as usize, top));
                    }
                }
            }
            let (q, entry) = best?;
            self.ready[q].pop();
            let def = self.records[entry.slot as usize].def;
            if admit(def) {
                return Some(entry.slot);
            }
            self.parked[def as usize].push(entry);
        }
    }

    /// A slot of `def` freed up: its best parked task competes again.
    pub fn unpark(&mut self, def: u32) {
        while let Some(e) = self.parked.get_mut(def as usize).and_then(BinaryHeap::pop) {
            if self.entry_is_live(e.slot, e.seq) {
                let q = self.records[e.slot as usize].queue;
                self.ready[q as usize].push(e);
                return;
            }
        }
    }

    pub fn slot_of(&self, id: &TaskId) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    pub fn slot_of_key(&self, key: &str) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    pub fn get(&self, slot: u32) -> Option<&Record> {
        self.records.get(slot as usize)
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Record> {
        self.records.get_mut(slot as usize)
    }

    /// Records that a task reached a final state (for `live` and retention).
    pub fn finished(&mut self, slot: u32) {
        self.live -= 1;
        let r = &self.records[slot as usize];
        self.finished.push_back((slot, r.seq, r.completed_at));
    }

    /// Forgets finished tasks beyond `keep_count`, or older than `max_age_ms`.
    pub fn evict(&mut self, now: u64, keep_count: usize, max_age_ms: Option<u64>) {
        while let Some(&(slot, seq, completed_at)) = self.finished.front() {
            let too_many = self.finished.len() > keep_count;
            let too_old = max_age_ms.is_some_and(|age| completed_at + age <= now);
            if !too_many && !too_old {
                break;
            }
            self.finished.pop_front();
            if let Some(r) = self.records.get(slot as usize) {
                if r.state.is_final() && r.seq == seq {
                    let r = self.records.remove(slot as usize);
                    self.by_id.remove(&r.id);
                    if let Some(k) = r.key() {
                        if self.by_key.get(k) == Some(&slot) {
                            self.by_key.remove(k);
                        }
                    }
                }
            }
        }
    }

    /// Tasks not yet in a final state.
    pub fn live_count(&self) -> usize {
        self.live
    }

    /// Every stored task, for listing.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Record)> {
        self.records.iter().map(|(s, r)| (s as u32, r))
    }
}

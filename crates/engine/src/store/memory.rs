//! The in-memory store: task records in a slab, the ready tasks of each task
//! definition in lines (one FIFO line per priority), one heap of delayed tasks ordered
//! by due time. Lines are per definition so that a definition held back by its policies
//! (rate limit, `maxParallel`, an open breaker) is simply not looked at, while the others
//! go on; comparing line heads keeps FIFO order across definitions of a queue.
//!
//! Lines and heaps use lazy deletion: cancelling a task only changes its record; a heap entry is
//! valid while its `seq` equals the record's (every re-enqueue takes a fresh `seq`).
//! That keeps cancel O(1) and claim O(log n).
//!
//! Ids carry their slot: a memory-store id is a UUID v7 whose 74 bits after the
//! timestamp hold the slot (32 bits) and 42 random bits, so finding a task by id is an
//! index plus a comparison — no hash map to insert into, probe, or evict from.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use compact_str::CompactString;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
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
    /// The `traceparent` it was submitted with (tracing).
    pub trace: Option<String>,
    /// Documents saved with `ctx.saveArtifact` (engine/artifacts.rs), artifact n at n - 1.
    pub artifacts: Vec<Box<str>>,
}

/// A task as the memory store keeps it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: TaskId,
    /// Index of the task's definition in the registry (which also gives its queue).
    pub def: u32,
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
    /// JSON text; short texts (most payloads) are stored inline, without an allocation.
    pub payload: CompactString,
    /// JSON text of the handler's return value.
    pub result: Option<CompactString>,
    /// Someone awaits this task's outcome: report it when it settles.
    pub watched: bool,
    /// `cancel()` was called while the task was running.
    pub cancel_requested: bool,
    /// This run is a half-open circuit breaker's trial.
    pub trial: bool,
    /// Final here, but a durable store has not committed it yet: not settled.
    pub committing: bool,
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

/// A queued task's place in line: its FIFO position and where its record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    seq: u64,
    slot: u32,
}

/// One definition's ready tasks: a FIFO line per priority, higher priorities served first.
/// Claiming is O(1) and reads memory in order, unlike a heap over millions of tasks.
#[derive(Debug, Default)]
struct ReadyQueue {
    lines: BTreeMap<i32, VecDeque<Entry>>,
}

impl ReadyQueue {
    fn push_back(&mut self, priority: i32, e: Entry) {
        self.lines.entry(priority).or_default().push_back(e);
    }

    /// The first entry of the highest priority line, dropping entries `is_live` rejects.
    fn peek_live(&mut self, is_live: impl Fn(Entry) -> bool) -> Option<(i32, Entry)> {
        loop {
            let mut line = self.lines.last_entry()?;
            match line.get().front().copied() {
                Some(e) if is_live(e) => return Some((*line.key(), e)),
                Some(_) => {
                    line.get_mut().pop_front();
                }
                None => {
                    line.remove();
                }
            }
        }
    }

    fn pop(&mut self, priority: i32) {
        if let Some(line) = self.lines.get_mut(&priority) {
            line.pop_front();
            if line.is_empty() {
                self.lines.remove(&priority);
            }
        }
    }
}

#[derive(Debug)]
pub struct MemoryStore {
    records: Slab<Record>,
    rng: SmallRng,
    by_key: FxHashMap<String, u32>,
    /// Ready tasks, indexed by definition.
    ready: Vec<ReadyQueue>,
    delayed: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// Finished tasks in completion order (slot, seq, completed_at) per retention
    /// group (see `finished`).
    finished: Vec<VecDeque<(u32, u64, u64)>>,
    next_seq: u64,
    /// Tasks not yet final (PENDING, RECEIVED, STARTED, RETRY).
    live: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            records: Slab::new(),
            rng: SmallRng::from_entropy(),
            by_key: FxHashMap::default(),
            ready: Vec::new(),
            delayed: BinaryHeap::new(),
            finished: Vec::new(),
            next_seq: 0,
            live: 0,
        }
    }
}

/// Whether a line or heap entry still stands for its task: the record is the one the
/// entry was made for (same `seq`) and it still waits to run.
fn is_live(records: &Slab<Record>, e: Entry) -> bool {
    records
        .get(e.slot as usize)
        .is_some_and(|r| r.seq == e.seq && matches!(r.state, TaskState::Pending | TaskState::Retry))
}

const RANDOM_BITS: u32 = 42;

/// A UUID v7 for `slot` created at `now_ms` (see the module docs).
fn slot_id(now_ms: u64, slot: u32, random: u64) -> TaskId {
    let ms = (now_ms as u128) & 0xFFFF_FFFF_FFFF;
    let tail = ((slot as u128) << RANDOM_BITS) | (random as u128 & ((1u128 << RANDOM_BITS) - 1));
    let rand_a = (tail >> 62) & 0xFFF;
    let rand_b = tail & ((1u128 << 62) - 1);
    uuid::Uuid::from_u128((ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
}

fn id_slot(id: &TaskId) -> u32 {
    let bits = id.as_u128();
    let tail = (((bits >> 64) & 0xFFF) << 62) | (bits & ((1u128 << 62) - 1));
    (tail >> RANDOM_BITS) as u32
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes room for `additional` more tasks at once (a batch submit).
    pub fn reserve(&mut self, additional: usize) {
        self.records.reserve(additional);
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn ensure_def(&mut self, def: u32) {
        if self.ready.len() <= def as usize {
            self.ready
                .resize_with(def as usize + 1, ReadyQueue::default);
        }
    }

    /// Inserts a new PENDING task, gives it its id and queues it (ready, or delayed
    /// until `run_at`). Returns its slot and id.
    pub fn insert(&mut self, mut record: Record, now: u64) -> (u32, TaskId) {
        record.seq = self.take_seq();
        let slot = self.records.vacant_key() as u32;
        record.id = slot_id(record.created_at, slot, self.rng.gen());
        let id = record.id;
        let key = record.key().map(str::to_owned);
        self.records.insert(record);
        if let Some(k) = key {
            self.by_key.insert(k, slot);
        }
        self.live += 1;
        self.schedule(slot, now);
        (slot, id)
    }

    /// Inserts a task claimed from a durable store under its own id; the caller maps
    /// the id to the slot. Returns the slot.
    pub fn insert_claimed(&mut self, mut record: Record, now: u64) -> u32 {
        record.seq = self.take_seq();
        let slot = self.records.insert(record) as u32;
        self.live += 1;
        self.schedule(slot, now);
        slot
    }

    /// Forgets a task that left this process (a durable store holds it now).
    pub fn remove(&mut self, slot: u32) -> Option<Record> {
        let r = self.records.try_remove(slot as usize)?;
        if !r.state.is_final() {
            self.live -= 1;
        }
        Some(r)
    }

    /// Deletes a task outright (`ex.remove`, `ex.clean`, `ex.drain`): its line and heap
    /// entries die with it (see `is_live`), its key is free again.
    pub fn forget(&mut self, slot: u32) -> Option<Record> {
        let r = self.remove(slot)?;
        if let Some(k) = r.key() {
            if self.by_key.get(k) == Some(&slot) {
                self.by_key.remove(k);
            }
        }
        Some(r)
    }

    /// A finished task waits to run again (`ex.retry`): PENDING at the end of its line,
    /// its attempts and last error kept.
    pub fn revive(&mut self, slot: u32, now: u64) {
        let r = &mut self.records[slot as usize];
        r.state = TaskState::Pending;
        r.result = None;
        r.started_at = 0;
        r.completed_at = 0;
        r.cancel_requested = false;
        r.trial = false;
        r.watched = false; // its waiters were answered when it finished
        r.run_at = 0;
        if let Some(x) = r.extra.as_mut() {
            x.progress = None;
            x.progress_message = None;
            x.status = None;
        }
        self.live += 1;
        self.requeue(slot, 0, now);
    }

    /// Puts a PENDING / RETRY task where it waits: the end of its line, or the
    /// delayed heap. A delayed task joins the end of its line when it becomes due.
    fn schedule(&mut self, slot: u32, now: u64) {
        let r = &self.records[slot as usize];
        let (def, priority, entry, run_at) =
            (r.def, r.priority, Entry { seq: r.seq, slot }, r.run_at);
        self.ensure_def(def);
        if run_at > now {
            self.delayed.push(Reverse((run_at, entry.seq, slot)));
        } else {
            self.ready[def as usize].push_back(priority, entry);
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
        is_live(&self.records, Entry { seq, slot })
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
                let (d, p) = (r.def, r.priority);
                self.ready[d as usize].push_back(p, Entry { seq, slot });
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

    /// The first ready task among `defs` (highest priority, then earliest in line) as
    /// (definition, slot), without taking it. Dead entries met on the way are dropped.
    pub fn peek_ready(&mut self, defs: &[u32]) -> Option<(u32, u32)> {
        let records = &self.records;
        let mut best: Option<(u32, i32, Entry)> = None;
        for &d in defs {
            let Some(ready) = self.ready.get_mut(d as usize) else {
                continue;
            };
            if let Some((p, e)) = ready.peek_live(|e| is_live(records, e)) {
                if best.is_none_or(|(_, bp, be)| p > bp || (p == bp && e.seq < be.seq)) {
                    best = Some((d, p, e));
                }
            }
        }
        best.map(|(d, _, e)| (d, e.slot))
    }

    /// Takes the first ready task of `def` (the one `peek_ready` returned for it).
    pub fn take_ready(&mut self, def: u32) -> Option<u32> {
        let records = &self.records;
        let ready = self.ready.get_mut(def as usize)?;
        let (p, e) = ready.peek_live(|e| is_live(records, e))?;
        ready.pop(p);
        Some(e.slot)
    }

    /// Whether `def` has a task ready to run.
    pub fn has_ready(&mut self, def: u32) -> bool {
        self.peek_ready(&[def]).is_some()
    }

    pub fn slot_of(&self, id: &TaskId) -> Option<u32> {
        let slot = id_slot(id);
        self.records
            .get(slot as usize)
            .filter(|r| r.id == *id)
            .map(|_| slot)
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

    /// Records that a task reached a final state (for `live` and retention). `group`
    /// is its retention group: 0 for the executor's `keepResults`, another number for
    /// a task name with its own.
    pub fn finished(&mut self, slot: u32, group: usize) {
        self.live -= 1;
        let r = &self.records[slot as usize];
        let entry = (slot, r.seq, r.completed_at);
        if self.finished.len() <= group {
            self.finished.resize_with(group + 1, VecDeque::new);
        }
        self.finished[group].push_back(entry);
    }

    /// Forgets finished tasks beyond each group's count, or older than its age
    /// (`groups[g]` = (count, max age) of group g; see `finished`).
    pub fn evict(&mut self, now: u64, groups: &[(usize, Option<u64>)]) {
        for (g, &(count, age)) in groups.iter().enumerate().take(self.finished.len()) {
            self.evict_group(now, g, count, age);
        }
    }

    fn evict_group(&mut self, now: u64, group: usize, keep_count: usize, max_age_ms: Option<u64>) {
        while let Some(&(slot, seq, completed_at)) = self.finished[group].front() {
            let too_many = self.finished[group].len() > keep_count;
            let too_old = max_age_ms.is_some_and(|age| completed_at + age <= now);
            if !too_many && !too_old {
                break;
            }
            self.finished[group].pop_front();
            if let Some(r) = self.records.get(slot as usize) {
                if r.state.is_final() && r.seq == seq {
                    let r = self.records.remove(slot as usize);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_ids_are_v7_and_decode_to_their_slot() {
        for (slot, random) in [
            (0u32, 0u64),
            (1, 12345),
            (u32::MAX, u64::MAX),
            (987_654, 1 << 41),
        ] {
            let id = slot_id(1_700_000_000_123, slot, random);
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(id_slot(&id), slot);
            let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
            assert_eq!((secs, nanos / 1_000_000), (1_700_000_000, 123));
        }
    }

    #[test]
    fn a_reused_slot_does_not_answer_for_the_old_id() {
        let mut store = MemoryStore::new();
        let rec = |t| Record {
            id: TaskId::nil(),
            def: 0,
            state: TaskState::Success,
            priority: 0,
            attempt: 1,
            seq: 0,
            run_at: 0,
            created_at: t,
            started_at: 0,
            completed_at: t,
            payload: "null".into(),
            result: None,
            watched: false,
            cancel_requested: false,
            trial: false,
            committing: false,
            extra: None,
        };
        let (slot, old) = store.insert(rec(1), 1);
        store.finished(slot, 0);
        store.evict(2, &[(0, None)]);
        assert_eq!(store.slot_of(&old), None);
        let (again, new) = store.insert(rec(3), 3);
        assert_eq!(again, slot);
        assert_eq!(store.slot_of(&new), Some(slot));
        assert_eq!(store.slot_of(&old), None);
    }
}

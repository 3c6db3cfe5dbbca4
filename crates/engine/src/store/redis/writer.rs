//! The Redis writer thread: the one connection of this process that changes tasks. It
//! takes the operations the engine sends and what the subscriber heard, and sends
//! everything that arrived meanwhile as one pipeline — submits, outcomes, "started",
//! promotions, recovery and the claim — so a batch of hundreds of tasks costs one round
//! trip. Between rounds it renews this worker's lease and, once a second, recovers the
//! tasks of dead workers and trims retention.
//!
//! When Redis is unreachable it reconnects with backoff: submits made meanwhile are
//! rejected with an error that says so (never dropped silently); outcomes are kept and
//! sent once Redis is back (their tasks stay leased to this live worker meanwhile).

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use redis::{Cmd, Value};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::keys;
use super::scripts::Scripts;
use super::{Notice, RedisFlags};
use crate::clock::Clock;
use crate::store::protocol::{state_code, worker_lost_error, Adopted, Op, Reply, Shared, Want};
use crate::store::writer::batch::Batch;
use crate::store::writer::chores::{LISTENER_TTL_MS, MAINTENANCE_EVERY_MS};
use crate::store::writer::thread::{self, Core, Incoming, Round};
use crate::task::TaskId;

pub struct RedisConfig {
    pub url: String,
    /// The hash-tagged key prefix, `{namespace}`.
    pub prefix: String,
    pub worker_id: String,
    pub worker: bool,
    pub lease_ms: u64,
    /// Claims left untaken by the host this long are released (`Shared::recall_untaken`).
    pub claim_hold_ms: u64,
    pub keep_count: usize,
    pub keep_age_ms: Option<u64>,
    /// Submits made while Redis is unreachable wait for it (else they are rejected).
    pub queue_offline_submits: bool,
}

/// What the writer's channel carries: the engine's ops and the subscriber's notices.
pub type Msg = Incoming<Notice>;

/// A parked claim is tried again this often even without a notice (a notice can be
/// missed while the subscriber reconnects).
const FALLBACK_POLL_MS: u64 = 1_000;
const TRIM_CHUNK: u64 = 2_000;
const PROMOTE_CHUNK: u64 = 5_000;
const MAX_BACKOFF_MS: u64 = 2_000;
/// The most tasks sent in one insert script call (a bigger submit is split).
const INSERT_CHUNK: usize = 2_000;

/// A round that did not get its answers back.
struct Unsent {
    error: String,
    /// The commands may have reached Redis (the connection broke after sending).
    maybe_sent: bool,
    /// None of them ran and sending them again is routine (a cluster redirect): even
    /// submits are kept for the next round instead of being rejected.
    resend: bool,
}

/// What an entry of the round's pipeline stands for.
enum Part {
    Insert {
        ticket: u64,
        last: bool,
    },
    /// A command queued in a submit's MULTI (answered QUEUED, or refused: then EXEC
    /// aborts the whole transaction).
    Queued {
        ticket: u64,
    },
    Claim,
    Finish(Vec<u32>),
    Retry(Vec<u32>),
    Promote,
    Outlook,
    /// Anything whose answer does not matter (lease, started, progress, logs…).
    Quiet,
}

pub struct Writer {
    endpoint: Arc<super::endpoint::Endpoint>,
    con: Option<redis::Connection>,
    scripts: Arc<Scripts>,
    cfg: RedisConfig,
    core: Core,
    flags: Arc<RedisFlags>,
    names: Vec<crate::store::protocol::Line>,
    own_retention: Vec<(String, usize, Option<u64>)>,
    last_claim_try: u64,
    /// Earliest known due time of a delayed task (0: none known).
    next_due: u64,
    /// When a name held back by its shared rate limit may claim again (0: none is).
    rate_wait_until: u64,
    /// Tasks claimed for this worker and handed to the host, until their outcome is sent.
    held: rustc_hash::FxHashSet<TaskId>,
    /// The connection broke: a claim may have run without its answer arriving.
    reconcile: bool,
    /// The subscriber reconnected: a cancel request may have been missed meanwhile.
    check_cancels: bool,
    /// Something may have become ready: try the parked claim.
    work_seen: bool,
    outlook_wanted: bool,
    backoff_ms: u64,
    next_connect_at: u64,
    down_reported: bool,
    /// Submits kept for later (`offlineSubmits: 'queue'`) whose round broke after it was
    /// sent: whether they were stored is looked up before they are sent again.
    unknown: Vec<Op>,
    /// Commands Redis refused in a row (MOVED, CROSSSLOT, NOPERM, OOM…): reported once
    /// per episode, and the writer backs off instead of spinning.
    refused: crate::store::fault::FaultEpisode,
    /// This process is registered as a listener.
    registered: bool,
}
/// Batches of events kept in the `{ns}:events` stream for listeners to read (about).
const EVENTS_KEEP: u64 = 10_000;

impl Writer {
    /// Keeps this process's listener registration (`{ns}:listeners`, by expiry) while it
    /// listens, and works out whether another process listens (then events are logged).
    /// Once a second, apart from the rounds: a failure here only delays events.
    fn listeners_chore(&mut self, now: u64) {
        if !self.core.chores.listeners_due(now) {
            return;
        }
        let Some(con) = self.con.as_mut() else { return };
        self.core.chores.listeners_ran(now);
        let key = keys::listeners(&self.cfg.prefix);
        let me = &self.cfg.worker_id;
        let listening = self.core.shared.listening.load(Ordering::SeqCst);
        let mut pipe = redis::pipe();
        if listening {
            pipe.cmd("ZADD").arg(&key).arg(now + LISTENER_TTL_MS).arg(me).ignore();
            self.registered = true;
        } else if self.registered {
            pipe.cmd("ZREM").arg(&key).arg(me).ignore();
            self.registered = false;
        }
        pipe.cmd("ZREMRANGEBYSCORE").arg(&key).arg("-inf").arg(now).ignore();
        pipe.cmd("ZRANGE").arg(&key).arg(0).arg(-1);
        if let Ok((live,)) = pipe.query::<(Vec<String>,)>(con) {
            let others = live.iter().any(|w| w != me);
            self.core.shared.listeners_elsewhere.store(others, Ordering::SeqCst);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        endpoint: Arc<super::endpoint::Endpoint>,
        con: redis::Connection,
        scripts: Arc<Scripts>,
        cfg: RedisConfig,
        clock: Arc<dyn Clock>,
        shared: Arc<Shared>,
        flags: Arc<RedisFlags>,
    ) -> Writer {
        Writer {
            core: Core::new(shared, clock, cfg.lease_ms, cfg.claim_hold_ms),
            endpoint,
            con: Some(con),
            scripts,
            cfg,
            flags,
            names: Vec::new(),
            own_retention: Vec::new(),
            last_claim_try: 0,
            next_due: 0,
            rate_wait_until: 0,
            held: rustc_hash::FxHashSet::default(),
            reconcile: false,
            check_cancels: false,
            work_seen: true,
            outlook_wanted: true,
            backoff_ms: 50,
            next_connect_at: 0,
            down_reported: false,
            refused: crate::store::fault::FaultEpisode::default(),
            unknown: Vec::new(),
            registered: false,
        }
    }

    /// Runs the writer thread until the engine stops it.
    pub fn run(self, rx: Receiver<Msg>) {
        thread::run(self, rx);
    }

    /// A connection, reconnecting (with backoff) if the last one broke.
    fn connection(&mut self, now: u64) -> Option<&mut redis::Connection> {
        if self.con.is_none() && now >= self.next_connect_at {
            match self.endpoint.connect(&self.scripts) {
                Ok(c) => {
                    self.con = Some(c);
                    self.reconcile = true;
                    self.backoff_ms = 50;
                    self.down_reported = false;
                    self.work_seen = true;
                    self.outlook_wanted = true;
                }
                Err(e) => self.went_down(now, &e),
            }
        }
        self.con.as_mut()
    }

    fn went_down(&mut self, now: u64, e: &redis::RedisError) {
        if !self.down_reported {
            self.core.shared.deliver(vec![Reply::Fault(format!(
                "the Redis store is unreachable: {e}; reconnecting with backoff"
            ))]);
            self.down_reported = true;
        }
        self.con = None;
        self.next_connect_at = now + self.backoff_ms;
        self.backoff_ms = (self.backoff_ms * 2).min(MAX_BACKOFF_MS);
    }

    fn evalsha(&self, script: &redis::Script) -> Cmd {
        self.scripts.call(script, &self.cfg.prefix)
    }

    /// After a broken connection: tasks leased to this worker that the host never
    /// received (their claim ran, its answer was lost) go back to their line; otherwise
    /// they would stay leased to this live worker for ever.
    fn release_strays(&mut self) {
        let me = self.cfg.worker_id.clone();
        let release = self.evalsha(&self.scripts.release);
        let owned_key = keys::owned(&self.cfg.prefix, &me);
        let Some(con) = self.con.as_mut() else { return };
        let Ok(owned) = redis::cmd("SMEMBERS")
            .arg(&owned_key)
            .query::<Vec<String>>(con)
        else {
            return;
        };
        let strays: Vec<String> = owned
            .into_iter()
            .filter(|id| uuid::Uuid::try_parse(id).is_ok_and(|id| !self.held.contains(&id)))
            .collect();
        let mut c = release;
        c.arg(&me).arg(&strays);
        if strays.is_empty() || c.query::<Value>(con).is_ok() {
            self.reconcile = false;
        }
    }

    /// After the subscriber reconnected: held tasks whose cancel was requested meanwhile
    /// (the request is also kept on the task, as its `x` field).
    fn missed_cancels(&mut self, replies: &mut Vec<Reply>) {
        let ids: Vec<TaskId> = self.held.iter().copied().collect();
        if ids.is_empty() {
            self.check_cancels = false;
            return;
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HGET")
                .arg(keys::task(&self.cfg.prefix, id))
                .arg("x");
        }
        let Some(con) = self.con.as_mut() else { return };
        let Ok(flags) = pipe.query::<Vec<Option<String>>>(con) else {
            return;
        };
        self.check_cancels = false;
        let asked: Vec<TaskId> = ids
            .into_iter()
            .zip(flags)
            .filter(|(_, x)| x.as_deref() == Some("1"))
            .map(|(id, _)| id)
            .collect();
        if !asked.is_empty() {
            replies.push(Reply::CancelRequested(asked));
        }
    }

    /// One pipeline: the ops, the chores that are due, the claim; then the replies.
    fn pipeline(&mut self, batch: Batch, now: u64, stopping: bool, replies: &mut Vec<Reply>) {
        let me = self.cfg.worker_id.clone();
        if self.reconcile && self.cfg.worker {
            self.release_strays();
        }
        if self.check_cancels {
            self.missed_cancels(replies);
        }
        if let Some(names) = &batch.names {
            self.names = names.clone();
        }
        if let Some(own) = &batch.retention {
            self.own_retention = own.clone();
        }
        if batch.poked {
            self.work_seen = true;
        }
        let names_changed = batch.names_changed() | self.core.marks.owed();
        let mut parts: Vec<(Part, Cmd)> = Vec::new();
        let mut finish = self.evalsha(&self.scripts.finish);
        finish.arg(&me);
        let mut retry_args: Vec<String> = Vec::new();
        // Progress, status and logs, announced to listeners in other processes.
        let mut events_logged = false;
        for op in &batch.ops {
            match op {
                Op::Insert { ticket, tasks } => {
                    let ticket = *ticket;
                    if tasks.len() <= INSERT_CHUNK {
                        let c = self.scripts.insert_call(&self.cfg.prefix, now, tasks);
                        parts.push((Part::Insert { ticket, last: true }, c));
                        continue;
                    }
                    // A bigger submit is several script calls in one MULTI/EXEC: Redis
                    // runs them as one step, and a connection lost before EXEC leaves
                    // nothing behind. All of it or none.
                    parts.push((Part::Quiet, redis::cmd("MULTI")));
                    for chunk in tasks.chunks(INSERT_CHUNK) {
                        let c = self.scripts.insert_call_inline(&self.cfg.prefix, now, chunk);
                        parts.push((Part::Queued { ticket }, c));
                    }
                    parts.push((Part::Insert { ticket, last: true }, redis::cmd("EXEC")));
                }
                Op::Finish {
                    id,
                    state,
                    attempt,
                    result,
                    error,
                    started_at,
                    at,
                    ..
                } => {
                    let mut buf = uuid::Uuid::encode_buffer();
                    let mut num = itoa::Buffer::new();
                    // Written straight into the command: this is the busiest thread here.
                    finish
                        .arg(&*id.hyphenated().encode_lower(&mut buf))
                        .arg(num.format(state_code(*state)))
                        .arg(num.format(*attempt))
                        .arg(result.as_deref().unwrap_or(""))
                        .arg(error.as_deref().unwrap_or(""))
                        .arg(num.format(*at))
                        .arg(num.format(*started_at));
                }
                Op::Retry {
                    id,
                    error,
                    due_at,
                    ..
                } => {
                    retry_args.extend([id.to_string(), error.clone(), due_at.to_string()]);
                }
                Op::Progress {
                    id,
                    percent,
                    message,
                } => {
                    let key = keys::task(&self.cfg.prefix, id);
                    let mut c = redis::cmd("HSET");
                    c.arg(&key).arg("pr").arg(*percent);
                    match message {
                        Some(m) => {
                            c.arg("pm").arg(m);
                        }
                        None => {
                            let mut d = redis::cmd("HDEL");
                            d.arg(&key).arg("pm");
                            parts.push((Part::Quiet, d));
                        }
                    }
                    parts.push((Part::Quiet, c));
                }
                Op::Status { id, status } => {
                    let mut c = redis::cmd("HSET");
                    c.arg(keys::task(&self.cfg.prefix, id))
                        .arg("st")
                        .arg(status);
                    parts.push((Part::Quiet, c));
                }
                Op::Log {
                    id,
                    time,
                    level,
                    message,
                } => {
                    let key = keys::log(&self.cfg.prefix, id);
                    let line = json!({ "time": time, "level": level, "message": message });
                    let mut c = redis::cmd("RPUSH");
                    c.arg(&key).arg(line.to_string());
                    parts.push((Part::Quiet, c));
                    let mut t = redis::cmd("LTRIM");
                    t.arg(&key)
                        .arg(-(crate::task::MAX_LOGS_PER_TASK as i64))
                        .arg(-1);
                    parts.push((Part::Quiet, t));
                }
                Op::Events { docs, at } => {
                    // One stream entry per batch, about the last EVENTS_KEEP entries kept.
                    let mut c = redis::cmd("XADD");
                    c.arg(keys::events(&self.cfg.prefix))
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(EVENTS_KEEP)
                        .arg("*")
                        .arg("o")
                        .arg(&me)
                        .arg("at")
                        .arg(*at)
                        .arg("e")
                        .arg(format!("[{docs}]"));
                    parts.push((Part::Quiet, c));
                    events_logged = true;
                }
                // Bookkeeping, read by `Batch`; "started" and releases below.
                Op::Adopt { .. }
                | Op::Started { .. }
                | Op::Release { .. }
                | Op::Names(_)
                | Op::Retention(_)
                | Op::Poke
                | Op::Flush { .. }
                | Op::Stop => {}
            }
        }
        // An outcome in this batch makes "started" moot: `Batch` left those out.
        if !batch.started_ids.is_empty() {
            let mut c = self.evalsha(&self.scripts.started);
            c.arg(&me).arg(batch.started_at);
            for id in &batch.started_ids {
                c.arg(id.to_string());
            }
            parts.push((Part::Quiet, c));
        }
        if !batch.settled.is_empty() {
            parts.push((Part::Finish(batch.settled.clone()), finish));
        }
        if !batch.requeued.is_empty() {
            let mut c = self.evalsha(&self.scripts.retry);
            c.arg(&me).arg(now).arg(batch.requeued.len());
            for a in &retry_args {
                c.arg(a);
            }
            parts.push((Part::Retry(batch.requeued.clone()), c));
        }
        if !batch.released.is_empty() {
            let mut c = self.evalsha(&self.scripts.release);
            c.arg(&me);
            for id in &batch.released {
                c.arg(id.to_string());
            }
            parts.push((Part::Quiet, c));
        }
        if events_logged {
            // Listening processes read the log now.
            let mut c = redis::cmd("PUBLISH");
            c.arg(keys::channel(&self.cfg.prefix)).arg("v");
            parts.push((Part::Quiet, c));
        }
        let worker = self.cfg.worker && !stopping;
        let heartbeat = worker && self.core.chores.heartbeat_due(now);
        if heartbeat {
            let mut c = redis::cmd("ZADD");
            c.arg(keys::workers(&self.cfg.prefix))
                .arg(now + self.cfg.lease_ms)
                .arg(&me);
            parts.push((Part::Quiet, c));
        }
        let maintenance = worker && self.core.chores.maintenance_due(now);
        if maintenance || heartbeat {
            let mut c = self.evalsha(&self.scripts.recover);
            c.arg(now)
                .arg(worker_lost_error(false))
                .arg(worker_lost_error(true));
            parts.push((Part::Quiet, c));
        }
        if maintenance {
            let mut c = self.evalsha(&self.scripts.trim);
            c.arg(now)
                .arg(TRIM_CHUNK)
                .arg(self.cfg.keep_count)
                .arg(self.cfg.keep_age_ms.map_or(-1, |a| a as i64))
                .arg(self.own_retention.len());
            for (name, count, age) in &self.own_retention {
                c.arg(name).arg(*count).arg(age.map_or(-1, |a| a as i64));
            }
            parts.push((Part::Quiet, c));
        }
        let promote = worker && self.next_due != 0 && self.next_due <= now;
        if promote {
            let mut c = self.evalsha(&self.scripts.promote);
            c.arg(now).arg(PROMOTE_CHUNK);
            parts.push((Part::Promote, c));
        }
        // The claim: a new request, or the standing one when something may have changed.
        let (wants, limit) = self.core.claim.current(&batch.request);
        let fallback = now >= self.last_claim_try + FALLBACK_POLL_MS;
        let rate_due = self.rate_wait_until != 0 && self.rate_wait_until <= now;
        let claim = worker
            && !wants.is_empty()
            && (batch.request.is_some()
                || self.work_seen
                || batch.inserted
                || !batch.requeued.is_empty()
                || !batch.released.is_empty()
                || promote
                || maintenance
                || rate_due
                || fallback);
        if claim {
            let mut c = self.evalsha(&self.scripts.claim);
            c.arg(&me)
                .arg(limit)
                .arg(now + self.cfg.lease_ms)
                .arg(now)
                .arg(wants.len());
            for w in &wants {
                let (emission, burst) = w.rate.map_or((-1.0, 0), |r| {
                    (r.interval_ms as f64 / r.limit as f64, r.burst)
                });
                c.arg(&w.name)
                    .arg(&w.queue)
                    .arg(w.max)
                    .arg(w.max_parallel.map_or(-1, |m| m as i64))
                    .arg(emission)
                    .arg(burst);
            }
            parts.push((Part::Claim, c));
        }
        // The outlook (is there work for this worker; the next due time) is worked out
        // in the round of anything that adds work — before the host hears of it, so it
        // never sees "nothing left" in between — and at most every OUTLOOK_EVERY_MS
        // while claims and outcomes stream through; a claim that finds nothing asks for
        // it on the next round, at once.
        let outlook = self.cfg.worker
            && (names_changed
                || self.outlook_wanted
                || stopping
                || maintenance
                || batch.inserted
                || promote
                || !batch.requeued.is_empty()
                || !batch.released.is_empty()
                || (claim && self.core.chores.outlook_due(now)));
        if outlook {
            let mut c = self.evalsha(&self.scripts.outlook);
            for (name, queue) in &self.names {
                c.arg(name).arg(queue);
            }
            parts.push((Part::Outlook, c));
        }
        if stopping && self.cfg.worker {
            // Expired at once: anything still leased to this worker is recovered by the
            // next worker that looks, instead of after a full lease.
            let mut c = redis::cmd("ZADD");
            c.arg(keys::workers(&self.cfg.prefix))
                .arg(0)
                .arg(&me);
            parts.push((Part::Quiet, c));
        }
        if parts.is_empty() {
            for ticket in &batch.flushes {
                replies.push(Reply::Committed {
                    ticket: *ticket,
                    existing_id: None,
                });
            }
            if batch.withdraws() {
                self.core.claim.clear();
                replies.push(Reply::Adopted(Vec::new()));
            }
            self.core.marks.recheck |= names_changed; // not worked out: owed
            return;
        }
        let (parts, commands): (Vec<Part>, Vec<Cmd>) = parts.into_iter().unzip();
        let answers = match self.send(commands, now) {
            Ok(a) => a,
            Err(e) => {
                self.core.marks.recheck |= names_changed;
                self.unsent(batch.ops, e, stopping, replies);
                return;
            }
        };
        if claim {
            self.last_claim_try = now;
            self.work_seen = false;
        }
        self.core.chores.ran(now, heartbeat, maintenance);
        let mut refused: Option<String> = None;
        let mut adopted = Vec::new();
        let mut failed_ops = false;
        let mut existing: FxHashMap<u64, Option<String>> = FxHashMap::default();
        let mut rejected: FxHashMap<u64, String> = FxHashMap::default();
        for (part, answer) in parts.iter().zip(answers) {
            let answer = match answer {
                Ok(v) => v,
                Err(e) => {
                    match part {
                        Part::Insert { ticket, .. } | Part::Queued { ticket } => {
                            rejected.entry(*ticket).or_insert_with(|| {
                                format!("the Redis store refused the submit (nothing was stored): {e}")
                            });
                        }
                        Part::Finish(_) | Part::Retry(_) => failed_ops = true,
                        _ => {}
                    }
                    refused = Some(e);
                    continue;
                }
            };
            match part {
                Part::Insert { ticket, .. } => match &answer {
                    Value::BulkString(b) if !b.is_empty() => {
                        existing.insert(*ticket, Some(String::from_utf8_lossy(b).into_owned()));
                    }
                    // EXEC of a big submit: a script that failed inside it (Redis out of
                    // memory mid-transaction) leaves the chunks before it stored.
                    Value::Array(results) => {
                        if let Some(Value::ServerError(e)) =
                            results.iter().find(|r| matches!(r, Value::ServerError(_)))
                        {
                            let e = format!("{e:?}");
                            rejected.insert(
                                *ticket,
                                format!("the Redis store stored only part of the submit, then failed: {e}"),
                            );
                            refused = Some(e);
                        }
                    }
                    _ => {}
                },
                Part::Queued { .. } => {}
                Part::Claim => {
                    let Value::Array(mut a) = answer else {
                        continue;
                    };
                    if a.len() != 3 {
                        continue;
                    }
                    let waits = a.pop().expect("three entries");
                    let wait = number(&a.pop().expect("three entries"));
                    let rows = a.pop().expect("three entries");
                    self.rate_wait_until = wait.max(0) as u64;
                    if !outlook && matches!(&rows, Value::Array(r) if r.is_empty()) {
                        self.outlook_wanted = true; // nothing claimed: is anything left?
                    }
                    // Why ready tasks wait, for `info().status` in this process.
                    let mut held_back = self.flags.rate_waits.lock().expect("rate waits lock");
                    held_back.clear();
                    if let Value::Array(w) = waits {
                        for pair in w.chunks(2) {
                            if let [Value::BulkString(name), at] = pair {
                                held_back.push((
                                    String::from_utf8_lossy(name).into_owned(),
                                    number(at).max(0) as u64,
                                ));
                            }
                        }
                    }
                    drop(held_back);
                    adopted = self.adopted_rows(&wants, rows);
                }
                Part::Finish(slots) => replies.push(Reply::Settled(slots.clone())),
                Part::Retry(slots) => replies.push(Reply::Requeued(slots.clone())),
                Part::Promote => {
                    let (n, due) = pair(&answer);
                    self.next_due = due.max(0) as u64;
                    if n > 0 && !claim {
                        self.work_seen = true;
                    }
                }
                Part::Outlook => {
                    let (any, due) = pair(&answer);
                    self.core.shared.has_work.store(any == 1, Ordering::SeqCst);
                    self.next_due = due.max(0) as u64;
                    self.core.shared.next_due.store(self.next_due, Ordering::SeqCst);
                    self.outlook_wanted = false;
                    self.core.chores.outlook_ran(now);
                    self.core.marks.outlook_done(&self.core.shared, names_changed);
                    if self.core.marks.recheck {
                        // An op marked stale may still be on its way: again, at once.
                        self.outlook_wanted = true;
                    }
                }
                Part::Quiet => {}
            }
        }
        match refused {
            Some(e) if self.refused.failed() => replies.push(Reply::Fault(format!(
                "the Redis store refused a command: {e}; retrying with backoff"
            ))),
            Some(_) => {}
            None => {
                self.refused.succeeded();
            }
        }
        if !failed_ops {
            for id in &batch.leaving {
                self.held.remove(id);
            }
        } else {
            // Keep outcomes that Redis refused for another try (their tasks stay leased).
            for op in batch.ops {
                if matches!(op, Op::Finish { .. } | Op::Retry { .. }) {
                    self.core.carry.push(op);
                }
            }
            replies.retain(|r| !matches!(r, Reply::Settled(_) | Reply::Requeued(_)));
        }
        let mut seen = rustc_hash::FxHashSet::default();
        for part in &parts {
            if let Part::Insert { ticket, last: true } = part {
                if !seen.insert(*ticket) {
                    continue;
                }
                match rejected.remove(ticket) {
                    Some(error) => replies.push(Reply::Rejected {
                        ticket: *ticket,
                        error,
                    }),
                    None => replies.push(Reply::Committed {
                        ticket: *ticket,
                        existing_id: existing.remove(ticket).flatten(),
                    }),
                }
            }
        }
        for ticket in &batch.flushes {
            replies.push(Reply::Committed {
                ticket: *ticket,
                existing_id: None,
            });
        }
        self.held.extend(adopted.iter().map(|a| a.id));
        self.core.claim.answered(batch.request, (wants, limit), adopted, replies);
        if outlook && replies.is_empty() {
            self.core.shared.wake();
        }
    }

    /// Sends the round's pipeline; scripts Redis forgot (NOSCRIPT) are loaded and those
    /// entries sent again. Err only when the connection failed.
    fn send(&mut self, commands: Vec<Cmd>, now: u64) -> Result<Vec<Result<Value, String>>, Unsent> {
        let scripts = self.scripts.clone();
        let Some(con) = self.connection(now) else {
            return Err(Unsent {
                error: "the Redis store is unreachable (reconnecting)".into(),
                maybe_sent: false,
                resend: false,
            });
        };
        let commands_sent = commands.len();
        let mut pipe = redis::Pipeline::with_capacity(commands.len());
        pipe.ignore_errors();
        for c in commands {
            pipe.add_command(c);
        }
        let result: redis::RedisResult<Vec<redis::RedisResult<Value>>> = pipe.query(con);
        let mut answers: Vec<Result<Value, String>> = match result {
            Ok(a) => {
                // The cluster moved the namespace's slot (a failover, a resharding): those
                // commands did not run here. Connect again, to the slot's new owner.
                let redirected = a.iter().filter(|r| r.as_ref().is_err_and(super::endpoint::is_redirect)).count();
                if redirected > 0 {
                    let e = a.into_iter().find_map(|r| r.err().filter(super::endpoint::is_redirect)).expect("a redirect");
                    // Routine in a cluster, not an outage: no fault, no backoff.
                    self.con = None;
                    self.next_connect_at = now + 20; // a resharding in progress answers ASK for a while
                    let all = redirected == commands_sent;
                    return Err(Unsent {
                        error: format!("the Redis Cluster moved the namespace's slot: {e}"),
                        maybe_sent: !all,
                        resend: all,
                    });
                }
                a.into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
            }
            Err(e) => {
                self.went_down(now, &e);
                return Err(Unsent {
                    error: format!("the connection to the Redis store broke: {e}"),
                    maybe_sent: true,
                    resend: false,
                });
            }
        };
        let forgotten: Vec<usize> = answers
            .iter()
            .enumerate()
            .filter(|(_, a)| a.as_ref().is_err_and(|e| e.contains("NOSCRIPT")))
            .map(|(i, _)| i)
            .collect();
        if !forgotten.is_empty() {
            let con = self.con.as_mut().expect("connected");
            let again = scripts.load(con).and_then(|_| {
                // Only the entries that failed are sent again.
                let mut retry = redis::pipe();
                retry.ignore_errors();
                for (i, c) in pipe.cmd_iter().enumerate() {
                    if forgotten.contains(&i) {
                        retry.add_command(c.clone());
                    }
                }
                retry.query::<Vec<redis::RedisResult<Value>>>(con)
            });
            match again {
                Ok(a) => {
                    for (i, r) in forgotten.into_iter().zip(a) {
                        answers[i] = r.map_err(|e| e.to_string());
                    }
                }
                Err(e) => {
                    self.went_down(now, &e);
                    return Err(Unsent {
                        error: format!("the connection to the Redis store broke: {e}"),
                        maybe_sent: true,
                        resend: false,
                    });
                }
            }
        }
        Ok(answers)
    }

    /// The round could not be sent (Redis unreachable): submits are rejected, so their
    /// callers know; outcomes and state changes are kept for the next round.
    ///
    /// When the connection broke after the round went out (`maybe_sent`), a submit's
    /// outcome is unknown: it was stored whole or not at all, and its caller is told so.
    /// Sending it again is only safe when every task carries an idempotency key.
    fn unsent(&mut self, ops: Vec<Op>, unsent: Unsent, stopping: bool, replies: &mut Vec<Reply>) {
        let Unsent { error, maybe_sent, resend } = unsent;
        for op in ops {
            match op {
                op @ Op::Insert { .. } if resend && !stopping => self.core.carry.push(op),
                op @ Op::Insert { .. } if self.cfg.queue_offline_submits && !stopping => {
                    if maybe_sent {
                        self.unknown.push(op);
                    } else {
                        self.core.carry.push(op);
                    }
                }
                Op::Insert { ticket, .. } if maybe_sent => replies.push(Reply::Rejected {
                    ticket,
                    error: format!(
                        "{error}; the outcome of this submit is unknown: it was stored whole or not at all \
                         (look it up, or submit again with an idempotency key, which is safe to repeat)"
                    ),
                }),
                // Everything else as on every store (`Core::failed`). Names and retention
                // were taken in by the batch; events of an unreachable moment are dropped
                // (the log is at-most-once).
                op => replies.extend(self.core.failed(op, stopping, || format!("{error}; nothing was stored"))),
            }
        }
    }

    /// Looks up whether the submits in `unknown` were stored (a batch is stored whole or
    /// not at all, and its ids are made here, so its first task tells): those stored are
    /// answered as committed, the others are returned to be sent. Without a connection
    /// they wait for the next round.
    fn resolve_unknown(&mut self, now: u64, replies: &mut Vec<Reply>) -> Vec<Op> {
        let prefix = self.cfg.prefix.clone();
        if self.connection(now).is_none() {
            return Vec::new();
        }
        let mut pipe = redis::pipe();
        for op in &self.unknown {
            let Op::Insert { tasks, .. } = op else { continue };
            match &tasks[0].key {
                Some(key) => pipe.cmd("HGET").arg(keys::idempotency(&prefix)).arg(key),
                None => pipe.cmd("HGET").arg(keys::task(&prefix, tasks[0].id)).arg("s"),
            };
        }
        let con = self.con.as_mut().expect("connected");
        let Ok(found) = pipe.query::<Vec<Option<String>>>(con) else {
            return Vec::new(); // still unknown: asked again next round
        };
        let mut resend = Vec::new();
        for (op, found) in std::mem::take(&mut self.unknown).into_iter().zip(found) {
            let Op::Insert { ticket, ref tasks } = op else { continue };
            match (found, &tasks[0].key) {
                (None, _) => resend.push(op),
                (Some(id), Some(_)) if id != tasks[0].id.to_string() => replies.push(Reply::Committed {
                    ticket,
                    existing_id: Some(id),
                }),
                (Some(_), _) => replies.push(Reply::Committed {
                    ticket,
                    existing_id: None,
                }),
            }
        }
        resend
    }

    /// The claim script's rows, as the engine takes them in.
    fn adopted_rows(&self, wants: &[Want], answer: Value) -> Vec<Adopted> {
        let defs: FxHashMap<&str, u32> = wants.iter().map(|w| (w.name.as_str(), w.def)).collect();
        let Value::Array(rows) = answer else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Value::Array(f) = row else { continue };
            if f.len() < 10 {
                continue;
            }
            let text = |i: usize| -> String {
                match &f[i] {
                    Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    Value::Int(n) => n.to_string(),
                    Value::SimpleString(s) => s.clone(),
                    _ => String::new(),
                }
            };
            let num = |i: usize| -> i64 { text(i).parse::<f64>().map(|v| v as i64).unwrap_or(0) };
            let name = text(0);
            let Some(def) = defs.get(name.as_str()).copied() else {
                continue;
            };
            let Ok(id) = uuid::Uuid::try_parse(&text(1)) else {
                continue;
            };
            let opt = |i: usize| Some(text(i)).filter(|s| !s.is_empty());
            out.push(Adopted {
                def,
                seq: num(9),
                id,
                priority: num(2) as i32,
                attempt: num(3) as u32,
                payload: text(4),
                created_at: num(5) as u64,
                run_at: opt(6).and_then(|s| s.parse().ok()),
                key: opt(7),
                error: opt(8),
                cancel_requested: f.len() > 10 && text(10) == "1",
                trace: if f.len() > 11 { opt(11) } else { None },
            });
        }
        // Highest priority first, then FIFO, across names.
        out.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.seq.cmp(&b.seq)));
        out
    }
}

impl Round for Writer {
    type Notice = Notice;

    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    fn wait_ms(&mut self, now: u64) -> u64 {
        // Woken for the chores on time (a wake a millisecond early would otherwise put
        // one off by a whole period). Unreachable, chores wait for the backoff.
        let mut wait = if self.con.is_some() {
            self.core.chores.next_in(now, self.cfg.worker).min(MAINTENANCE_EVERY_MS)
        } else {
            MAINTENANCE_EVERY_MS
        };
        if !self.core.claim.is_empty() {
            wait = wait.min(FALLBACK_POLL_MS);
            for t in [self.next_due, self.rate_wait_until] {
                if t != 0 {
                    wait = wait.min(t.saturating_sub(now));
                }
            }
        }
        if !self.core.carry.is_empty() || !self.unknown.is_empty() || self.con.is_none() {
            wait = wait.min(self.backoff_ms);
        }
        // A round asked for the outlook: the next one comes at once (unless Redis is
        // unreachable: then the backoff sets the pace).
        let connected = self.con.is_some() && self.core.carry.is_empty();
        if self.outlook_wanted && self.cfg.worker && connected {
            0
        } else {
            wait.max(1)
        }
    }

    // No spinning before sleeping (unlike the SQLite writer): a round trip to Redis
    // already gives the host time to answer, and a spinning thread takes a core from
    // Redis and the host on a small machine.

    fn notice(&mut self, notice: Notice, replies: &mut Vec<Reply>) {
        match notice {
            Notice::Work => self.work_seen = true,
            Notice::Due(t) => {
                if self.next_due == 0 || t < self.next_due {
                    self.next_due = t;
                }
                self.outlook_wanted = true;
            }
            Notice::Reconnected => {
                self.work_seen = true;
                self.outlook_wanted = true;
                self.check_cancels = true;
            }
            Notice::Cancel(id) => replies.push(Reply::CancelRequested(vec![id])),
        }
    }

    fn round(&mut self, mut ops: Vec<Op>, now: u64, stopping: bool, replies: &mut Vec<Reply>) {
        if self.refused.failing() {
            std::thread::sleep(self.refused.backoff());
        }
        self.listeners_chore(self.core.clock.now_ms());
        if !self.unknown.is_empty() && !stopping {
            ops.extend(self.resolve_unknown(now, replies));
        }
        self.pipeline(Batch::new(ops, now), now, stopping, replies);
    }

    fn stopped(&mut self) {
        self.flags.stop.store(true, Ordering::SeqCst);
    }
}

/// A script's number (Lua numbers come back as integers or, as text, floats); -1 if none.
fn number(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(-1, |f| f as i64),
        _ => -1,
    }
}

/// A script's `{number, number}` answer.
fn pair(v: &Value) -> (i64, i64) {
    match v {
        Value::Array(a) if a.len() == 2 => (number(&a[0]), number(&a[1])),
        _ => (0, -1),
    }
}

//! The Redis store: many worker processes on many machines share one Redis.
//!
//! Like the SQLite store, the engine keeps in memory only the tasks this process has
//! claimed; Redis holds everything else. Changes go through one writer thread
//! ([`writer`]) that sends each round as one pipeline of Lua scripts ([`scripts`]),
//! so claims and outcomes are atomic and cost one round trip per batch. A subscriber
//! thread listens on the namespace's channel: new work wakes an idle worker at once
//! (no polling), finished tasks wake a process awaiting them, and cancel requests reach
//! the worker running the task. Reads (`state`, `info`, `list`, `counts`) use a third
//! connection on the caller's thread.
//!
//! # Key layout
//! Every key starts with the namespace in braces, `{ns}` — a Redis Cluster hash tag, so
//! all keys of a namespace live in one slot and no script ever sees a CROSSSLOT:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{ns}:t:<id>` | hash | a task: name, queue, state, priority, payload, result, error, attempt, times, owner, progress, status |
//! | `{ns}:log:<id>` | list | a task's log lines (JSON), the newest 1,000 |
//! | `{ns}:ready:<queue>:<name>` | sorted set | tasks ready to run, by -priority then seq (FIFO) |
//! | `{ns}:delayed` | sorted set | delayed tasks and retries, by due time |
//! | `{ns}:all` | sorted set | every stored task, by seq (for `list`) |
//! | `{ns}:done:<name>` | sorted set | finished tasks, by completion time (retention) |
//! | `{ns}:owned:<worker>` | set | tasks a worker has claimed and not finished |
//! | `{ns}:workers` | sorted set | live workers, by lease expiry |
//! | `{ns}:running` | hash | tasks claimed per name, across processes (`maxParallel`) |
//! | `{ns}:counts` | hash | tasks per `state:queue` (`counts()`) |
//! | `{ns}:keys` | hash | idempotency key → task id |
//! | `{ns}:schedules` | hash | cron schedule id → its definition (JSON) |
//! | `{ns}:schedules:next` | zset | cron schedule id by its next tick (ms) |
//! | `{ns}:names` | set | task names ever submitted |
//! | `{ns}:defs` | hash | `<name> <worker>` → that worker's definition of the task (JSON): the shared registry |
//! | `{ns}:paused` | set | paused queues |
//! | `{ns}:layout` | string | the key layout version (2: ready lines per queue) |
//! | `{ns}:seq` | string | the submit counter (FIFO order) |
//! | `{ns}:ev` | channel | `w` new work, `d<due>` a delayed task, `f` tasks finished (whoever awaits some looks them up), `c<worker> <id>` cancel, `l<worker>` a process began listening to events, `v` events were logged |
//! | `{ns}:events` | stream | task events for listeners in other processes: `o` origin worker, `at`, `e` a JSON array of event documents (about the last 10,000 batches) |
//! | `{ns}:listeners` | sorted set | processes listening to task events, by registration expiry |

pub mod endpoint;
mod control;
mod events;
pub mod keys;
mod registry;
pub mod scripts;
pub mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;

use crate::clock::Clock;
use crate::error::{EngineError, Result};
use crate::store::protocol::{
    page, DurableStore, ListQuery, NewTask, Op, Reply, Shared, StoredCancel,
};
use crate::task::{TaskId, TaskState};
use endpoint::Endpoint;
use scripts::Scripts;
pub use writer::RedisConfig;
use writer::{Msg, Writer};

/// What the subscriber tells the writer.
pub enum Notice {
    /// Tasks became ready somewhere: try the parked claim.
    Work,
    /// A delayed task was stored, due at this time.
    Due(u64),
    /// Someone asked to cancel a task this worker runs.
    Cancel(TaskId),
    /// The subscriber reconnected: notices may have been missed.
    Reconnected,
}

/// Flags the threads share with the store.
#[derive(Default)]
pub struct RedisFlags {
    pub stop: AtomicBool,
    /// Tasks finished somewhere since the host last looked.
    pub changed: AtomicBool,
    /// The host awaits tasks held elsewhere (wake it when some finish).
    pub watching: AtomicBool,
    /// The writer's standing claim includes a name held back by `maxParallel`.
    pub parked_limited: AtomicBool,
    /// Task names held back by their shared rate limit at the last claim, and until when.
    pub rate_waits: Mutex<Vec<(String, u64)>>,
    /// Reading the event log, while the host listens to other processes' events.
    pub events: events::Cursor,
}

pub struct RedisStore {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    flags: Arc<RedisFlags>,
    endpoint: Arc<Endpoint>,
    reader: Mutex<Option<redis::Connection>>,
    scripts: Arc<Scripts>,
    prefix: String,
    thread: Option<JoinHandle<()>>,
    address: String,
    /// While watching: the last entry of the finish log (`{ns}:fin`) looked at.
    fin_cursor: Mutex<Option<String>>,
    /// This process's worker id: its own logged events are not read back.
    me: String,
    clock: Arc<dyn Clock>,
}

/// At construction: the namespace's keys can be read and written with this connection's
/// user (an ACL that leaves out the bare `{ns}` key, say, is named now, not on every
/// round later). `INCRBY … 0` changes nothing.
fn check_access(con: &mut redis::Connection, prefix: &str) -> redis::RedisResult<()> {
    redis::pipe()
        .cmd("EXISTS")
        .arg(prefix)
        .cmd("INCRBY")
        .arg(keys::seq(prefix))
        .arg(0)
        .query::<()>(con)?;
    // A namespace an older taskloom wrote is brought to the current key layout.
    redis::cmd("EVAL")
        .arg(scripts::UPGRADE_SOURCE)
        .arg(0)
        .arg(prefix)
        .query::<()>(con)
}

/// `redis://user:secret@host` shown without the secret.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

fn store_error(address: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Store(format!("the Redis store at '{address}' failed: {e}"))
}


impl RedisStore {
    /// Connects (failing with a `StoreError` if Redis cannot be reached now) and starts
    /// the writer and subscriber threads.
    pub fn open(cfg: RedisConfig, clock: Arc<dyn Clock>) -> Result<RedisStore> {
        let address = redacted(&cfg.url);
        let (url, cluster) = endpoint::cluster_url(&cfg.url);
        let client = redis::Client::open(url.as_str())
            .map_err(|e| EngineError::invalid(format!("store '{address}': {e}")))?;
        let endpoint = Arc::new(Endpoint::new(client, cluster, cfg.prefix.clone()));
        {
            let mut probe = endpoint
                .seed()
                .get_connection_with_timeout(Duration::from_secs(2))
                .map_err(|e| store_error(&address, e))?;
            endpoint.check_mode(&mut probe).map_err(|e| store_error(&address, e))?;
        }
        let scripts = Arc::new(Scripts::new());
        let mut writer_con = endpoint.connect(&scripts).map_err(|e| store_error(&address, e))?;
        check_access(&mut writer_con, &cfg.prefix).map_err(|e| store_error(&address, e))?;
        let reader = endpoint.connect(&scripts).map_err(|e| store_error(&address, e))?;
        let shared = Arc::new(Shared::default());
        shared.outlook_stale.store(true, Ordering::SeqCst);
        let flags = Arc::new(RedisFlags::default());
        let (tx, rx) = channel();
        let prefix = cfg.prefix.clone();
        let me = cfg.worker_id.clone();
        let store_clock = clock.clone();
        let w = Writer::new(
            endpoint.clone(),
            writer_con,
            scripts.clone(),
            cfg,
            clock,
            shared.clone(),
            flags.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("taskloom-redis-writer".into())
            .spawn(move || w.run(rx))
            .map_err(|e| store_error(&address, e))?;
        let sub = Subscriber {
            client: endpoint.seed().clone(),
            channel: keys::channel(&prefix),
            me: me.clone(),
            tx: tx.clone(),
            shared: shared.clone(),
            flags: flags.clone(),
        };
        std::thread::Builder::new()
            .name("taskloom-redis-subscriber".into())
            .spawn(move || sub.run())
            .map_err(|e| store_error(&address, e))?;
        Ok(RedisStore {
            tx,
            shared,
            flags,
            endpoint,
            reader: Mutex::new(Some(reader)),
            scripts,
            prefix,
            thread: Some(thread),
            address,
            fin_cursor: Mutex::new(None),
            me,
            clock: store_clock,
        })
    }

    fn task_key(&self, id: &str) -> String {
        keys::task(&self.prefix, id)
    }

    /// Runs `f` on the reader connection, reconnecting once if it broke.
    fn read<T>(&self, f: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>) -> Result<T> {
        let mut guard = self.reader.lock().expect("reader lock");
        for attempt in 0..2 {
            if guard.is_none() {
                match self.endpoint.connect(&self.scripts) {
                    Ok(c) => *guard = Some(c),
                    Err(e) => return Err(store_error(&self.address, e)),
                }
            }
            match f(guard.as_mut().expect("connected")) {
                Ok(v) => {
                    if self.thread.is_none() {
                        *guard = None; // closed: a read after close() keeps no socket
                    }
                    return Ok(v);
                }
                // A broken connection, or a cluster that moved the slot: connect again
                // (to the slot's owner as it is now).
                Err(e)
                    if attempt == 0
                        && (e.is_io_error() || e.is_connection_dropped() || endpoint::is_redirect(&e)) =>
                {
                    *guard = None;
                }
                Err(e)
                    if attempt == 0
                        && e.kind()
                            == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    // Redis forgot the scripts (SCRIPT FLUSH): load them, then once more.
                    let con = guard.as_mut().expect("connected");
                    self.scripts
                        .load(con)
                        .map_err(|e| store_error(&self.address, e))?;
                }
                Err(e) => return Err(store_error(&self.address, e)),
            }
        }
        Err(store_error(&self.address, "the connection keeps failing"))
    }

    fn fields(&self, id: &str) -> Result<Option<Vec<(String, String)>>> {
        let key = self.task_key(id);
        let map: Vec<(String, String)> = self.read(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        Ok((!map.is_empty()).then_some(map))
    }

    fn logs(&self, id: &str) -> Result<Vec<serde_json::Value>> {
        let key = keys::log(&self.prefix, id);
        let lines: Vec<String> =
            self.read(|c| redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(c))?;
        Ok(lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

fn state_of(code: &str) -> TaskState {
    code.parse::<usize>()
        .ok()
        .and_then(|i| TaskState::ALL.get(i).copied())
        .unwrap_or(TaskState::Pending)
}

/// A task hash as `info()` shows it (without logs), plus its `seq`.
fn hash_info(id: &str, fields: &[(String, String)]) -> serde_json::Value {
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let json_of = |k: &str| {
        get(k)
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let int = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok()).map(|v| v as i64);
    let state = state_of(get("s").unwrap_or("0"));
    let attempt = int("a").unwrap_or(0);
    let retries = if state == TaskState::Retry {
        attempt
    } else {
        (attempt - 1).max(0)
    };
    json!({
        "id": id,
        "name": get("n"),
        "queue": get("q"),
        "state": state.as_str(),
        // Texts, never parsed here (see `TaskInfoView`).
        "payload": get("d").unwrap_or("null"),
        "result": get("res"),
        "error": json_of("err"),
        "attempt": attempt,
        "retries": retries,
        "priority": int("p").unwrap_or(0),
        "progress": get("pr").and_then(|v| v.parse::<f64>().ok()),
        "progressMessage": get("pm"),
        "status": get("st"),
        "logs": [],
        "key": get("k"),
        "createdAt": int("c"),
        "runAt": int("r"),
        "startedAt": int("sa"),
        "completedAt": int("ca"),
        "workerId": get("o"),
        "seq": int("seq"),
    })
}

impl DurableStore for RedisStore {
    fn send(&self, op: Op) {
        let _ = self.tx.send(Msg::Op(op));
    }

    fn take_replies(&self) -> Vec<Reply> {
        self.shared.take()
    }

    fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        *self.shared.waker.lock().expect("waker lock") = Some(waker);
    }

    fn has_work(&self) -> bool {
        self.shared.outlook_stale.load(Ordering::SeqCst)
            || self.shared.has_work.load(Ordering::SeqCst)
    }

    fn next_due(&self) -> Option<u64> {
        Some(self.shared.next_due.load(Ordering::SeqCst)).filter(|d| *d > 0)
    }

    fn set_names(&self, names: Vec<crate::store::protocol::Line>) {
        self.shared.mark_stale(|| self.send(Op::Names(names)));
    }

    fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.send(Op::Stop);
            let _ = t.join();
        }
        // The subscriber sees this within its read timeout and drops its connection.
        self.flags.stop.store(true, Ordering::SeqCst);
        *self.reader.lock().expect("reader lock") = None;
    }

    fn changed(&mut self) -> bool {
        self.flags.changed.swap(false, Ordering::SeqCst)
    }

    fn set_watching(&self, watching: bool) {
        self.flags.watching.store(watching, Ordering::SeqCst);
        let mut cursor = self.fin_cursor.lock().expect("cursor lock");
        if !watching {
            *cursor = None;
        } else if cursor.is_none() {
            // Where the log stands now: what finishes from here on is read from it.
            let key = keys::finished(&self.prefix);
            let last: Option<Vec<(String, Vec<String>)>> = self
                .read(|c| {
                    redis::cmd("XREVRANGE")
                        .arg(&key)
                        .arg("+")
                        .arg("-")
                        .arg("COUNT")
                        .arg(1)
                        .query(c)
                })
                .ok();
            *cursor = last.map(|l| l.first().map_or("0-0".to_string(), |e| e.0.clone()));
        }
    }

    fn finished_since(&mut self) -> Option<Vec<TaskId>> {
        const PAGE: usize = 2_000;
        let key = keys::finished(&self.prefix);
        let mut cursor = self.fin_cursor.lock().expect("cursor lock").clone()?;
        let mut ids = Vec::new();
        loop {
            let entries: Vec<(String, Vec<String>)> = self
                .read(|c| {
                    redis::cmd("XRANGE")
                        .arg(&key)
                        .arg(format!("({cursor}"))
                        .arg("+")
                        .arg("COUNT")
                        .arg(PAGE)
                        .query(c)
                })
                .ok()?;
            for (entry, fields) in &entries {
                cursor.clone_from(entry);
                if let Some(list) = fields.get(1) {
                    ids.extend(
                        list.split(',')
                            .filter_map(|id| uuid::Uuid::try_parse(id).ok()),
                    );
                }
            }
            if entries.len() < PAGE {
                break;
            }
        }
        *self.fin_cursor.lock().expect("cursor lock") = Some(cursor);
        Some(ids)
    }

    fn notifies(&self) -> bool {
        true
    }

    fn shared_rate_wait(&self, name: &str) -> Option<u64> {
        let waits = self.flags.rate_waits.lock().expect("rate waits lock");
        waits.iter().find(|(n, _)| n == name).map(|(_, at)| *at)
    }

    fn set_remote_events(&self, on: bool) {
        RedisStore::set_listening(self, on)
    }

    fn listeners_elsewhere(&self) -> bool {
        self.shared.listeners_elsewhere.load(Ordering::SeqCst)
    }

    fn events_due(&self, now: u64) -> bool {
        self.flags.events.due(now)
    }

    fn read_events(&mut self) -> Vec<String> {
        RedisStore::read_events(self)
    }

    fn state(&self, id: &TaskId) -> Result<Option<TaskState>> {
        let key = self.task_key(&id.to_string());
        let s: Option<String> = self.read(|c| redis::cmd("HGET").arg(&key).arg("s").query(c))?;
        Ok(s.map(|s| state_of(&s)))
    }

    fn info(&self, id: &TaskId) -> Result<Option<serde_json::Value>> {
        let id = id.to_string();
        let Some(fields) = self.fields(&id)? else {
            return Ok(None);
        };
        let mut info = hash_info(&id, &fields);
        info["logs"] = serde_json::Value::Array(self.logs(&id)?);
        if let Some(o) = info.as_object_mut() {
            o.remove("seq");
        }
        Ok(Some(info))
    }

    fn finished_among(&self, ids: &[TaskId]) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let keys: Vec<String> = chunk
                .iter()
                .map(|i| self.task_key(&i.to_string()))
                .collect();
            let states: Vec<Option<String>> = self.read(|c| {
                let mut p = redis::pipe();
                for k in &keys {
                    p.cmd("HGET").arg(k).arg("s");
                }
                p.query(c)
            })?;
            for (id, s) in chunk.iter().zip(states) {
                match s {
                    None => out.push(serde_json::json!({ "id": id.to_string(), "missing": true })),
                    Some(s) if state_of(&s).is_final() => {
                        if let Some(info) = self.info(id)? {
                            out.push(info);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(out)
    }

    fn cancel(&mut self, id: &TaskId, now: u64, me: &str) -> Result<Option<StoredCancel>> {
        let id = id.to_string();
        let mut cmd = self.scripts.call(&self.scripts.cancel, &self.prefix);
        cmd.arg(&id).arg(now).arg(me);
        let answer: String = self.read(|c| cmd.query(c))?;
        Ok(match answer.as_str() {
            "missing" => None,
            "revoked" => Some(StoredCancel::Revoked),
            "here" => Some(StoredCancel::ClaimedHere),
            "requested" => Some(StoredCancel::Requested),
            other => Some(StoredCancel::AlreadyFinal(state_of(
                other.strip_prefix("final:").unwrap_or("0"),
            ))),
        })
    }

    fn insert_now(&mut self, tasks: &[NewTask], now: u64) -> Result<Option<String>> {
        if tasks.is_empty() {
            return Ok(None);
        }
        let cmd = self.scripts.insert_call(&self.prefix, now, tasks);
        let existing: String = self.read(|c| cmd.query(c))?;
        self.shared.mark_stale(|| self.send(Op::Poke));
        Ok(Some(existing).filter(|e| !e.is_empty()))
    }

    fn list(&self, q: &ListQuery, limit: usize, after: i64) -> Result<serde_json::Value> {
        let state = q.state.as_deref().map(TaskState::parse).transpose()?;
        let newest = q.newest_first()?;
        let all = keys::all(&self.prefix);
        let mut rows = Vec::new();
        let mut from = if after == i64::MAX {
            "+inf".to_string()
        } else {
            format!("({after}")
        };
        // Walk the tasks in seq order (or backwards), a chunk at a time, until a page (+1) matched.
        while rows.len() <= limit {
            let ids: Vec<String> = self.read(|c| {
                let (cmd, end) = if newest {
                    ("ZREVRANGEBYSCORE", "-inf")
                } else {
                    ("ZRANGEBYSCORE", "+inf")
                };
                redis::cmd(cmd)
                    .arg(&all)
                    .arg(&from)
                    .arg(end)
                    .arg("LIMIT")
                    .arg(0)
                    .arg(500)
                    .query(c)
            })?;
            if ids.is_empty() {
                break;
            }
            let hashes: Vec<Vec<(String, String)>> = self.read(|c| {
                let mut p = redis::pipe();
                for id in &ids {
                    p.cmd("HGETALL").arg(self.task_key(id));
                }
                p.query(c)
            })?;
            let mut last_seq = after;
            for (id, fields) in ids.iter().zip(hashes) {
                if fields.is_empty() {
                    continue;
                }
                let info = hash_info(id, &fields);
                last_seq = info["seq"].as_i64().unwrap_or(last_seq);
                let keep = state.is_none_or(|s| info["state"] == s.as_str())
                    && q.name.as_ref().is_none_or(|n| info["name"] == n.as_str())
                    && q.queue.as_ref().is_none_or(|n| info["queue"] == n.as_str());
                if keep && rows.len() <= limit {
                    rows.push(info);
                }
            }
            if ids.len() < 500 {
                break;
            }
            from = format!("({last_seq}");
        }
        page(rows, limit)
    }

    fn counts(&self) -> Result<Vec<(String, TaskState, u64)>> {
        let key = keys::counts(&self.prefix);
        let map: Vec<(String, i64)> = self.read(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        Ok(map
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .filter_map(|(field, n)| {
                let (state, queue) = field.split_once(':')?;
                Some((queue.to_string(), state_of(state), n as u64))
            })
            .collect())
    }

    fn id_by_key(&self, key: &str) -> Result<Option<TaskId>> {
        let by_key = keys::idempotency(&self.prefix);
        let id: Option<String> = self.read(|c| redis::cmd("HGET").arg(&by_key).arg(key).query(c))?;
        Ok(id.and_then(|id| uuid::Uuid::try_parse(&id).ok()))
    }

    fn schedules(&self) -> Result<Vec<(String, u64)>> {
        let (docs, next) = self.schedule_keys();
        // (id, definition) pairs, and (id, next tick) pairs.
        type Rows = (Vec<(String, String)>, Vec<(String, f64)>);
        let (docs, next): Rows = self.read(|c| {
            redis::pipe()
                .cmd("HGETALL")
                .arg(&docs)
                .cmd("ZRANGE")
                .arg(&next)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(c)
        })?;
        let next: std::collections::HashMap<String, f64> = next.into_iter().collect();
        let mut out: Vec<(String, String, u64)> = docs
            .into_iter()
            .map(|(id, doc)| {
                let at = next.get(&id).copied().unwrap_or(0.0) as u64;
                (id, doc, at)
            })
            .collect();
        out.sort();
        Ok(out.into_iter().map(|(_, doc, at)| (doc, at)).collect())
    }

    fn put_schedule(&mut self, id: &str, doc: &str, next_at: u64) -> Result<()> {
        let (docs, next) = self.schedule_keys();
        self.read(|c| {
            redis::pipe()
                .atomic()
                .cmd("HSET")
                .arg(&docs)
                .arg(id)
                .arg(doc)
                .ignore()
                .cmd("ZADD")
                .arg(&next)
                .arg(next_at)
                .arg(id)
                .ignore()
                .query::<()>(c)
        })
    }

    fn advance_schedule(&mut self, id: &str, next_at: u64) -> Result<()> {
        let (_, next) = self.schedule_keys();
        // XX: a schedule removed meanwhile stays removed; GT: never back.
        self.read(|c| {
            redis::cmd("ZADD")
                .arg(&next)
                .arg("XX")
                .arg("GT")
                .arg(next_at)
                .arg(id)
                .query::<()>(c)
        })
    }

    fn remove_schedule(&mut self, id: &str) -> Result<bool> {
        let (docs, next) = self.schedule_keys();
        let (removed, _): (i64, i64) = self.read(|c| {
            redis::pipe()
                .atomic()
                .cmd("HDEL")
                .arg(&docs)
                .arg(id)
                .cmd("ZREM")
                .arg(&next)
                .arg(id)
                .query(c)
        })?;
        Ok(removed > 0)
    }
    fn publish_definition(
        &mut self,
        name: &str,
        worker: &str,
        doc: &str,
        now: u64,
        stale_ms: u64,
    ) -> Result<()> {
        RedisStore::publish_definition(self, name, worker, doc, now, stale_ms)
    }
    fn definitions(&self, name: Option<&str>) -> Result<Vec<crate::store::protocol::StoredDefinition>> {
        RedisStore::definitions(self, name)
    }
    fn set_queue_paused(&mut self, queue: &str, paused: bool, now: u64) -> Result<bool> {
        RedisStore::set_queue_paused(self, queue, paused, now)
    }
    fn paused_queues(&self) -> Result<Vec<String>> {
        RedisStore::paused_queues(self)
    }
    fn save_artifact(&mut self, task: &TaskId, doc: &str, max: usize) -> Result<Option<u64>> {
        RedisStore::save_artifact(self, task, doc, max)
    }
    fn artifacts(&self, task: &TaskId) -> Result<Vec<(u64, String)>> {
        RedisStore::artifacts(self, task)
    }
    fn requeue(&mut self, id: &TaskId) -> Result<crate::store::protocol::ActionOutcome> {
        RedisStore::requeue(self, id)
    }
    fn remove(&mut self, id: &TaskId) -> Result<crate::store::protocol::ActionOutcome> {
        RedisStore::remove(self, id)
    }
    fn clean(&mut self, filter: &crate::store::protocol::CleanFilter) -> Result<u64> {
        RedisStore::clean(self, filter)
    }
    fn drain(&mut self, queue: &str) -> Result<u64> {
        RedisStore::drain(self, queue)
    }
}

impl RedisStore {
    /// The schedules' definitions (hash) and next ticks (sorted set).
    fn schedule_keys(&self) -> (String, String) {
        (
            keys::schedules(&self.prefix),
            keys::schedules_next(&self.prefix),
        )
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        DurableStore::stop(self);
    }
}

/// Listens on the namespace's channel and passes on what concerns this process.
struct Subscriber {
    client: redis::Client,
    channel: String,
    me: String,
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    flags: Arc<RedisFlags>,
}

impl Subscriber {
    fn run(self) {
        let mut backoff = 50;
        let mut first = true;
        while !self.flags.stop.load(Ordering::SeqCst) {
            let connected = self
                .client
                .get_connection_with_timeout(Duration::from_secs(2))
                .and_then(|c| {
                    c.set_read_timeout(Some(Duration::from_millis(200)))?;
                    Ok(c)
                });
            let mut con = match connected {
                Ok(c) => c,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(backoff));
                    backoff = (backoff * 2).min(2_000);
                    continue;
                }
            };
            let mut pubsub = con.as_pubsub();
            if pubsub.subscribe(&self.channel).is_err() {
                continue;
            }
            backoff = 50;
            if !first {
                // Notices may have been missed while disconnected: look again.
                let _ = self.tx.send(Msg::Notice(Notice::Reconnected));
            }
            // Tasks awaited since the store opened may have finished before this
            // subscription stood (their notice went to no one): look them up once now.
            self.finished();
            first = false;
            while !self.flags.stop.load(Ordering::SeqCst) {
                match pubsub.get_message() {
                    Ok(msg) => self.handle(msg.get_payload_bytes()),
                    Err(e) if e.is_timeout() => {}
                    Err(_) => break,
                }
            }
        }
    }

    fn handle(&self, payload: &[u8]) {
        let Some((&kind, rest)) = payload.split_first() else {
            return;
        };
        let rest = std::str::from_utf8(rest).unwrap_or("");
        match kind {
            b'w' => {
                let _ = self.tx.send(Msg::Notice(Notice::Work));
            }
            b'd' => {
                if let Ok(t) = rest.parse::<u64>() {
                    let _ = self.tx.send(Msg::Notice(Notice::Due(t)));
                }
            }
            b'f' => {
                self.finished();
                if self.flags.parked_limited.load(Ordering::SeqCst) {
                    let _ = self.tx.send(Msg::Notice(Notice::Work));
                }
            }
            b'l' if rest != self.me => {
                // A process began listening: log events for it from now on (the writer's
                // look at the listeners, once a second, keeps this up to date).
                self.shared.listeners_elsewhere.store(true, Ordering::SeqCst);
            }
            b'v' if self.flags.events.on.load(Ordering::SeqCst) => {
                // A writer logged events: read them (see `events.rs`).
                if !self.flags.events.notice.swap(true, Ordering::SeqCst) {
                    self.shared.wake();
                }
            }
            b'c' => {
                if let Some((worker, id)) = rest.split_once(' ') {
                    if worker == self.me {
                        if let Ok(id) = uuid::Uuid::try_parse(id) {
                            let _ = self.tx.send(Msg::Notice(Notice::Cancel(id)));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Tasks finished somewhere: a host awaiting tasks held elsewhere looks them up.
    /// Nothing is noted while it awaits none: a new watch reads the task afresh, after
    /// turning `watching` on, so no finish falls between the two.
    fn finished(&self) {
        if self.flags.watching.load(Ordering::SeqCst)
            && !self.flags.changed.swap(true, Ordering::SeqCst)
        {
            self.shared.wake();
        }
    }
}

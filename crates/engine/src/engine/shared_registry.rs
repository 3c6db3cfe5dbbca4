//! The shared registry. On a durable store, workers publish their task definitions to
//! the store, so that:
//! - a producer submits by name without the handler's code: the task goes to the queue
//!   the definition names, with the worker's retry policy;
//! - every process sees every definition, which workers serve it and when each was last
//!   seen;
//! - workers that define one name differently are reported, never silently mixed.
//!
//! A name a producer submits without registering it becomes a *remote* definition here
//! (`TaskDef::remote`): never run by this process, refreshed from the store at most
//! every `REMOTE_RECHECK_MS`, taken over if this process registers a handler for it.

use serde_json::{json, Value};

use super::{Engine, Event};
use crate::error::{EngineError, Result};
use crate::options::SubmitOptions;
use crate::registry::{validate_name, RemoteDef, TaskDef, TaskOptionsSpec};
use crate::store::protocol::StoredDefinition;

/// How long a producer goes by what it read of a definition before asking again.
const REMOTE_RECHECK_MS: u64 = 1_000;

/// Where workers' definitions of one task must agree.
const POLICY_FIELDS: [&str; 7] = [
    "queue",
    "priority",
    "timeoutMs",
    "maxParallel",
    "retry",
    "rateLimit",
    "circuitBreaker",
];

/// Fields a published document carries about its publisher, not about the task.
const PUBLISHER_FIELDS: [&str; 4] = ["worker", "pid", "leaseMs", "publishedAt"];

/// A published definition, read back.
struct Published {
    worker: String,
    doc: Value,
    alive: bool,
    last_seen_at: u64,
    published_at: u64,
}

fn published(rows: Vec<StoredDefinition>, now: u64) -> Vec<Published> {
    rows.into_iter()
        .filter_map(|r| {
            let doc: Value = serde_json::from_str(&r.doc).ok()?;
            let lease_ms = doc["leaseMs"].as_u64().unwrap_or(0);
            let published_at = doc["publishedAt"].as_u64().unwrap_or(0);
            // Just published, before the worker's first heartbeat: alive too.
            let alive = r.lease_until.is_some_and(|l| l > now)
                || (r.lease_until.is_none() && published_at + lease_ms > now);
            let last_seen_at = r
                .lease_until
                .map_or(published_at, |l| l.saturating_sub(lease_ms).max(published_at));
            Some(Published {
                worker: r.worker,
                doc,
                alive,
                last_seen_at,
                published_at,
            })
        })
        .collect()
}

/// The definition to go by: the newest of a live worker, else the newest.
fn current(rows: &[Published]) -> Option<&Published> {
    rows.iter()
        .filter(|p| p.alive)
        .max_by_key(|p| p.published_at)
        .or_else(|| rows.iter().max_by_key(|p| p.published_at))
}

/// Where live workers' definitions differ: `[{ field, values: [{ worker, value }] }]`.
fn conflicts(rows: &[Published]) -> Vec<Value> {
    let live: Vec<&Published> = rows.iter().filter(|p| p.alive).collect();
    let mut out = Vec::new();
    for field in POLICY_FIELDS {
        let first = live.first().map(|p| &p.doc[field]);
        if live.iter().any(|p| Some(&p.doc[field]) != first) {
            let values: Vec<Value> = live
                .iter()
                .map(|p| json!({ "worker": p.worker, "value": p.doc[field] }))
                .collect();
            out.push(json!({ "field": field, "values": values }));
        }
    }
    out
}

/// A definition as `info()` shows it, with the workers that serve it and the conflicts.
fn shown(mut doc: Value, rows: &[Published]) -> Value {
    if let Some(o) = doc.as_object_mut() {
        for f in PUBLISHER_FIELDS {
            o.remove(f);
        }
    }
    doc["workers"] = rows
        .iter()
        .map(|p| {
            json!({
                "id": p.worker,
                "pid": p.doc["pid"],
                "alive": p.alive,
                "lastSeenAt": p.last_seen_at,
            })
        })
        .collect::<Vec<_>>()
        .into();
    doc["conflicts"] = conflicts(rows).into();
    doc
}

impl Engine {
    /// Publishes a definition this worker runs to the durable store's registry and
    /// reports a conflict with other live workers' definitions of the name.
    pub(super) fn publish_definition(&mut self, def: u32) {
        if self.durable.is_none() || !self.cfg.worker || !self.worked_defs.contains(&def) {
            return;
        }
        let now = self.now();
        let mut doc = self.def_view(def);
        doc["worker"] = self.worker_id.clone().into();
        doc["pid"] = std::process::id().into();
        doc["leaseMs"] = self.cfg.lease_ms.into();
        doc["publishedAt"] = now.into();
        let name = self.registry.get(def).name.clone();
        let me = self.worker_id.clone();
        let stale_ms = self.cfg.lease_ms * 2;
        let store = &mut self.durable.as_mut().expect("durable").store;
        let outcome = store
            .publish_definition(&name, &me, &doc.to_string(), now, stale_ms)
            .and_then(|()| store.definitions(Some(&name)));
        match outcome {
            Err(e) => self.events.push(Event::StoreFault(format!(
                "the definition of task '{name}' could not be published to the store's registry: {e}"
            ))),
            Ok(rows) => {
                let found = conflicts(&published(rows, now));
                if !found.is_empty() {
                    let fields: Vec<&str> =
                        found.iter().filter_map(|c| c["field"].as_str()).collect();
                    self.events.push(Event::DefinitionConflict(format!(
                        "workers sharing the store define task '{name}' differently ({}): \
                         see ex.info('{name}').conflicts",
                        fields.join(", ")
                    )));
                }
            }
        }
    }

    /// The definition index to submit `name` under. A registered name is itself; on a
    /// durable store an unknown name becomes a remote definition (from the store's
    /// registry when a worker published one); on the memory store it is an error.
    pub fn remote_def(&mut self, name: &str) -> Result<u32> {
        if let Ok(i) = self.registry.index_of(name) {
            return Ok(i);
        }
        if self.durable.is_none() {
            return Err(EngineError::UnknownTask(name.to_string()));
        }
        validate_name("task", name)?;
        let now = self.now();
        let def = self.remote_from_store(name, now)?;
        self.register(def)
    }

    /// What the store says of `name`, as a remote definition.
    fn remote_from_store(&self, name: &str, now: u64) -> Result<TaskDef> {
        let store = &self.durable.as_ref().expect("durable").store;
        let rows = published(store.definitions(Some(name))?, now);
        let Some(p) = current(&rows) else {
            let mut def = TaskDef::from_spec(name, TaskOptionsSpec::default())?;
            def.remote = Some(RemoteDef {
                known: false,
                checked_at: now,
            });
            return Ok(def);
        };
        // What a producer needs of it: where the task goes, its priority and how many
        // attempts it gets (kept with the task for a worker that dies); the rest for show.
        let d = &p.doc;
        let spec = json!({
            "queue": d["queue"],
            "priority": d["priority"],
            "tags": d["tags"],
            "description": d["description"],
            "params": d["params"],
            "retry": d["retry"],
        });
        let spec: TaskOptionsSpec = serde_json::from_value(spec).map_err(|e| {
            EngineError::Store(format!(
                "the store's definition of task '{name}' cannot be read: {e}"
            ))
        })?;
        let mut def = TaskDef::from_spec(name, spec)?;
        def.remote = Some(RemoteDef {
            known: true,
            checked_at: now,
        });
        Ok(def)
    }

    /// Reads a remote definition from the store again once it is older than
    /// `REMOTE_RECHECK_MS` (a worker may have published it, or changed it, meanwhile).
    pub(super) fn refresh_remote(&mut self, def: u32, now: u64) {
        let Some(r) = self.registry.get(def).remote else {
            return;
        };
        if now < r.checked_at + REMOTE_RECHECK_MS {
            return;
        }
        let name = self.registry.get(def).name.clone();
        // When the store cannot be read, the submit goes by what was read before (and
        // reports the store's trouble itself); the store is asked again next time.
        if let Ok(fresh) = self.remote_from_store(&name, now) {
            let _ = self.register(fresh);
        }
    }

    /// The queue a submit of `def` goes to: the definition's, or for a task no
    /// definition is known of yet, the submit's `queue` (else `default`).
    pub(super) fn submit_queue<'a>(&'a self, def: u32, opts: &'a SubmitOptions) -> Result<&'a str> {
        let d = self.registry.get(def);
        match &opts.queue {
            Some(q) if matches!(d.remote, Some(RemoteDef { known: false, .. })) => Ok(q),
            Some(q) if *q != d.queue => Err(EngineError::invalid(format!(
                "task '{}' runs in queue '{}' (its definition says so): this submit asks for queue '{q}'",
                d.name, d.queue
            ))),
            _ => Ok(&d.queue),
        }
    }

    /// The definition of `name` as `ex.info(name)` shows it (JSON), or None. On a
    /// durable store it includes what other workers published: `workers`, `conflicts`.
    pub fn def_info_json(&self, name: &str) -> Result<Option<String>> {
        let local = self
            .registry
            .index_of(name)
            .ok()
            .filter(|i| self.registry.get(*i).remote.is_none());
        let Some(d) = &self.durable else {
            return Ok(local.map(|i| self.def_view(i).to_string()));
        };
        let now = self.now();
        let rows = published(d.store.definitions(Some(name))?, now);
        let doc = match (local, current(&rows)) {
            (Some(i), _) => self.def_view(i),
            (None, Some(p)) => p.doc.clone(),
            (None, None) => return Ok(None),
        };
        Ok(Some(shown(doc, &rows).to_string()))
    }

    /// JSON array of the definitions carrying every tag in `tags`: those registered
    /// here, then (on a durable store) those only other workers published, by name.
    pub fn defs_json(&self, tags: &[String]) -> Result<String> {
        let locals = self
            .registry
            .iter()
            .filter(|(_, d)| d.remote.is_none() && d.has_tags(tags));
        let Some(d) = &self.durable else {
            let list: Vec<Value> = locals.map(|(i, _)| self.def_view(i)).collect();
            return Ok(serde_json::to_string(&list).expect("definitions serialize"));
        };
        let now = self.now();
        let mut by_name: std::collections::BTreeMap<String, Vec<StoredDefinition>> =
            Default::default();
        for row in d.store.definitions(None)? {
            by_name.entry(row.name.clone()).or_default().push(row);
        }
        let mut list: Vec<Value> = Vec::new();
        for (i, def) in locals {
            let rows = published(by_name.remove(&def.name).unwrap_or_default(), now);
            list.push(shown(self.def_view(i), &rows));
        }
        for (_, rows) in by_name {
            let rows = published(rows, now);
            if let Some(p) = current(&rows) {
                let has_tags = tags.iter().all(|t| {
                    p.doc["tags"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(t)))
                });
                if has_tags {
                    list.push(shown(p.doc.clone(), &rows));
                }
            }
        }
        Ok(serde_json::to_string(&list).expect("definitions serialize"))
    }
}

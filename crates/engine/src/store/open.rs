//! Naming and opening a store: the one place that knows every kind. A new durable store
//! is a new folder under `store/`, one variant here, one arm in `open`, and one kind in
//! the conformance suite.

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::{EngineError, Result};
use crate::store::protocol::DurableStore;
use crate::store::redis::{RedisConfig, RedisStore};
use crate::store::sqlite::{SqliteSettings, SqliteStore};

/// Where tasks are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreKind {
    Memory,
    Sqlite(std::path::PathBuf),
    /// A `redis://` or `rediss://` URL.
    Redis(String),
}

impl StoreKind {
    pub fn parse(text: &str) -> Result<StoreKind> {
        if text == "memory" {
            return Ok(StoreKind::Memory);
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(EngineError::invalid(
                    "store 'sqlite:' needs a file path, e.g. 'sqlite:./tasks.db'",
                ));
            }
            return Ok(StoreKind::Sqlite(path.into()));
        }
        if ["redis://", "rediss://", "redis+cluster://", "rediss+cluster://"]
            .iter()
            .any(|s| text.starts_with(s))
        {
            return Ok(StoreKind::Redis(text.to_string()));
        }
        Err(EngineError::invalid(format!(
            "unsupported store '{text}': expected 'memory', 'sqlite:<path>', 'redis://host:port' or 'redis+cluster://host:port'"
        )))
    }
}

/// What every durable store is opened with (from the engine's configuration).
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub worker_id: String,
    pub worker: bool,
    pub lease_ms: u64,
    /// SQLite: how often the file is looked at for others' commits.
    pub poll_ms: u64,
    pub claim_hold_ms: u64,
    pub keep_count: usize,
    pub keep_age_ms: Option<u64>,
    /// Redis: the namespace (keys start with `{namespace}`).
    pub namespace: String,
    /// Redis: submits made while it is unreachable wait for it (else they are rejected).
    pub queue_offline_submits: bool,
}

/// Opens the durable store `kind` names; None for the memory store, which the engine
/// keeps itself.
pub fn open(kind: StoreKind, s: StoreSettings, clock: Arc<dyn Clock>) -> Result<Option<Box<dyn DurableStore>>> {
    Ok(Some(match kind {
        StoreKind::Memory => return Ok(None),
        StoreKind::Sqlite(path) => Box::new(SqliteStore::open(SqliteSettings { path, writer: s }, clock)?),
        StoreKind::Redis(url) => Box::new(RedisStore::open(
            RedisConfig {
                url,
                prefix: format!("{{{}}}", s.namespace),
                worker_id: s.worker_id,
                worker: s.worker,
                lease_ms: s.lease_ms,
                claim_hold_ms: s.claim_hold_ms,
                keep_count: s.keep_count,
                keep_age_ms: s.keep_age_ms,
                queue_offline_submits: s.queue_offline_submits,
            },
            clock,
        )?),
    }))
}

//! The shared registry in Redis: `{ns}:defs` maps `<name> <worker>` to
//! `<published_at> <definition JSON>`; a worker's lease is its score in `{ns}:workers`.

use super::keys;
use super::RedisStore;
use crate::error::Result;
use crate::store::protocol::StoredDefinition;

impl RedisStore {
    fn defs_key(&self) -> String {
        keys::definitions(&self.prefix)
    }

    /// Every published definition with its worker's lease expiry, optionally of one name.
    fn read_definitions(&self, name: Option<&str>) -> Result<Vec<(StoredDefinition, u64)>> {
        let key = self.defs_key();
        let rows: Vec<(String, String)> = self.read(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        let mut rows: Vec<(String, String, u64, String)> = rows
            .into_iter()
            .filter_map(|(field, value)| {
                let (n, worker) = field.split_once(' ')?;
                let (at, doc) = value.split_once(' ')?;
                Some((n.to_string(), worker.to_string(), at.parse().ok()?, doc.to_string()))
            })
            .filter(|r| name.is_none_or(|n| n == r.0))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        let workers = keys::workers(&self.prefix);
        let leases: Vec<Option<f64>> = if rows.is_empty() {
            Vec::new()
        } else {
            self.read(|c| {
                let mut pipe = redis::pipe();
                for r in &rows {
                    pipe.cmd("ZSCORE").arg(&workers).arg(&r.1);
                }
                pipe.query(c)
            })?
        };
        Ok(rows
            .into_iter()
            .zip(leases)
            .map(|((name, worker, at, doc), lease)| {
                (
                    StoredDefinition {
                        name,
                        worker,
                        doc,
                        // A closing worker sets its lease to 0: gone.
                        lease_until: lease.filter(|l| *l > 0.0).map(|l| l as u64),
                    },
                    at,
                )
            })
            .collect())
    }

    pub fn publish_definition(
        &mut self,
        name: &str,
        worker: &str,
        doc: &str,
        now: u64,
        stale_ms: u64,
    ) -> Result<()> {
        let key = self.defs_key();
        let gone: Vec<String> = self
            .read_definitions(Some(name))?
            .into_iter()
            .filter(|(d, at)| {
                d.worker != worker && d.lease_until.is_none() && *at < now.saturating_sub(stale_ms)
            })
            .map(|(d, _)| format!("{name} {}", d.worker))
            .collect();
        self.read(|c| {
            let mut pipe = redis::pipe();
            pipe.cmd("HSET")
                .arg(&key)
                .arg(format!("{name} {worker}"))
                .arg(format!("{now} {doc}"))
                .ignore();
            if !gone.is_empty() {
                pipe.cmd("HDEL").arg(&key).arg(&gone).ignore();
            }
            pipe.query::<()>(c)
        })
    }

    pub fn definitions(&self, name: Option<&str>) -> Result<Vec<StoredDefinition>> {
        Ok(self.read_definitions(name)?.into_iter().map(|(d, _)| d).collect())
    }
}

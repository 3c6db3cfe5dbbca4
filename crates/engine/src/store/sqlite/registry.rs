//! The shared registry in the SQLite file: each worker's published definition of each
//! task it runs, read back with the worker's lease (its last heartbeat).

use rusqlite::params;

use super::{query_error, SqliteStore};
use crate::error::Result;
use crate::store::protocol::StoredDefinition;

impl SqliteStore {
    pub fn publish_definition(
        &mut self,
        name: &str,
        worker: &str,
        doc: &str,
        now: u64,
        stale_ms: u64,
    ) -> Result<()> {
        self.write_here(|tx| {
            tx.execute(
                "INSERT INTO definitions (name, worker, doc, published_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name, worker) DO UPDATE SET doc = excluded.doc, published_at = excluded.published_at",
                params![name, worker, doc, now as i64],
            )?;
            // Workers that closed or died (their lease row is gone) and have not published
            // lately: their definitions would only report conflicts that no longer exist.
            tx.execute(
                "DELETE FROM definitions WHERE name = ?1 AND worker <> ?2 AND published_at < ?3
                   AND worker NOT IN (SELECT id FROM workers)",
                params![name, worker, now.saturating_sub(stale_ms) as i64],
            )?;
            Ok(())
        })
    }

    pub fn definitions(&self, name: Option<&str>) -> Result<Vec<StoredDefinition>> {
        let reader = self.reader()?;
        let mut st = reader
            .prepare_cached(
                "SELECT d.name, d.worker, d.doc, w.expires_at FROM definitions AS d
                   LEFT JOIN workers AS w ON w.id = d.worker
                 WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, d.published_at",
            )
            .map_err(|e| query_error(&self.path, e))?;
        let rows = st
            .query_map(params![name], |r| {
                Ok(StoredDefinition {
                    name: r.get(0)?,
                    worker: r.get(1)?,
                    doc: r.get(2)?,
                    lease_until: r.get::<_, Option<i64>>(3)?.map(|v| v.max(0) as u64),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| query_error(&self.path, e))?;
        Ok(rows)
    }
}

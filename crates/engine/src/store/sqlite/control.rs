//! Steering the work in the SQLite file: paused queues (claims skip them, in every
//! process on the file).

use rusqlite::params;

use super::{query_error, SqliteStore};
use crate::error::Result;
use crate::store::protocol::Op;

impl SqliteStore {
    pub fn set_queue_paused(&mut self, queue: &str, paused: bool, now: u64) -> Result<bool> {
        let changed = self.write_here(|tx| {
            if paused {
                tx.execute(
                    "INSERT INTO paused_queues (queue, paused_at) VALUES (?1, ?2) ON CONFLICT(queue) DO NOTHING",
                    params![queue, now as i64],
                )
            } else {
                tx.execute("DELETE FROM paused_queues WHERE queue = ?1", params![queue])
            }
        })? > 0;
        // This process's writer looks again (other processes see the file change).
        self.shared.mark_stale(|| self.send(Op::Poke));
        Ok(changed)
    }

    pub fn paused_queues(&self) -> Result<Vec<String>> {
        let reader = self.reader()?;
        let mut st = reader
            .prepare_cached("SELECT queue FROM paused_queues ORDER BY queue")
            .map_err(|e| query_error(&self.path, e))?;
        let rows = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| query_error(&self.path, e))?;
        Ok(rows)
    }
}

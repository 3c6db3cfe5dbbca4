//! Tasks per queue and state, as the writer keeps them: counted in memory while it writes
//! a round, and added to `task_counts` once, before the round commits.
//!
//! The schema's count triggers (migration 5) keep `task_counts` for every other writer —
//! the caller's connection (cancel, requeue, remove, clean, drain, single submits) and
//! older taskloom versions sharing the file. On the writer's own connection they cost a
//! trigger program per row changed (counting here instead measured ~1.11x end to end), so
//! that connection runs with triggers off (`disable_triggers`) and counts here instead.
//! With triggers off it must also delete a task's artifacts itself (the other trigger).

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, Transaction};

/// Count changes of one round, `(queue, state, delta)`: a handful of entries (queues
/// times states), so a scan beats a map and a hit allocates nothing.
#[derive(Debug, Default)]
pub struct Counts {
    deltas: Vec<(String, i64, i64)>,
}

impl Counts {
    /// `n` tasks more (or fewer, when negative) in `state` of `queue`.
    pub fn add(&mut self, queue: &str, state: i64, n: i64) {
        if n == 0 {
            return;
        }
        match self.deltas.iter_mut().find(|(q, s, _)| *s == state && q == queue) {
            Some((_, _, d)) => *d += n,
            None => self.deltas.push((queue.to_owned(), state, n)),
        }
    }

    /// `n` tasks of `queue` went from state `from` to `to`.
    pub fn moved(&mut self, queue: &str, from: i64, to: i64, n: i64) {
        if from != to {
            self.add(queue, from, -n);
            self.add(queue, to, n);
        }
    }

    /// Adds the round's changes to `task_counts`, in the round's transaction.
    pub fn write(&mut self, tx: &Transaction) -> rusqlite::Result<()> {
        if self.deltas.iter().all(|(_, _, d)| *d == 0) {
            self.deltas.clear();
            return Ok(());
        }
        let mut st = tx.prepare_cached(
            "INSERT INTO task_counts (queue, state, n) VALUES (?1, ?2, ?3)
             ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n",
        )?;
        for (queue, state, n) in self.deltas.drain(..) {
            if n != 0 {
                st.execute(params![queue, state, n])?;
            }
        }
        Ok(())
    }
}

/// Turns the schema's triggers off on the writer's connection (see the module comment).
pub fn disable_triggers(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    Ok(())
}

/// What the artifacts trigger does, for tasks the writer deletes.
pub fn delete_artifacts(tx: &Transaction, task_id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM artifacts WHERE task_id = ?1")?
        .execute(params![task_id])?;
    Ok(())
}

//! Steering the work in the SQLite file: paused queues (claims skip them, in every
//! process on the file), and the task actions — retry, remove, clean, drain. Bulk
//! deletes go a chunk per transaction, so the writer gets the file in between.

use rusqlite::{params, OptionalExtension};

use super::{query_error, schema, SqliteStore};
use crate::error::Result;
use crate::store::protocol::{state_code, ActionOutcome, CleanFilter, Op, ACTION_CHUNK};
use crate::task::{TaskId, TaskState};

/// Deletes the logs of the tasks whose ids (a JSON array) were just deleted.
const DELETE_LOGS: &str = "DELETE FROM task_logs WHERE task_id IN (SELECT value FROM json_each(?1))";

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

    /// The state of task `id`, inside a write transaction.
    fn state_in(tx: &rusqlite::Transaction, id: &TaskId) -> rusqlite::Result<Option<TaskState>> {
        tx.prepare_cached("SELECT state FROM tasks WHERE id = ?1")?
            .query_row(params![id.to_string()], |r| r.get::<_, i64>(0))
            .optional()
            .map(|s| s.map(|s| TaskState::ALL[s as usize]))
    }

    pub fn requeue(&mut self, id: &TaskId) -> Result<ActionOutcome> {
        let out = self.write_here(|tx| {
            match Self::state_in(tx, id)? {
                None => return Ok(ActionOutcome::Missing),
                Some(TaskState::Failure | TaskState::Revoked) => {}
                Some(s) => return Ok(ActionOutcome::WrongState(s)),
            }
            tx.execute(
                &format!(
                    "UPDATE tasks SET state = {}, due_at = NULL, started_at = NULL, completed_at = NULL,
                       owner = NULL, cancel_requested = 0, result = NULL, progress = NULL,
                       progress_message = NULL, status = NULL
                     WHERE id = ?1",
                    schema::PENDING
                ),
                params![id.to_string()],
            )?;
            Ok(ActionOutcome::Done)
        })?;
        if out == ActionOutcome::Done {
            // This process's writer looks for work again (others see the file change).
            self.shared.mark_stale(|| self.send(Op::Poke));
        }
        Ok(out)
    }

    pub fn remove(&mut self, id: &TaskId) -> Result<ActionOutcome> {
        self.write_here(|tx| {
            match Self::state_in(tx, id)? {
                None => return Ok(ActionOutcome::Missing),
                Some(s) if !s.is_final() => return Ok(ActionOutcome::WrongState(s)),
                Some(_) => {}
            }
            let id = id.to_string();
            tx.execute("DELETE FROM tasks WHERE id = ?1", params![id])?;
            tx.execute("DELETE FROM task_logs WHERE task_id = ?1", params![id])?;
            Ok(ActionOutcome::Done)
        })
    }

    /// Runs `delete` (a statement that deletes up to `?2` rows and returns their ids) a
    /// chunk per transaction, with the logs, until it deletes less than a chunk or `limit`
    /// is reached; how many it deleted.
    fn delete_in_chunks(
        &mut self,
        delete: &str,
        args: &[&dyn rusqlite::ToSql],
        limit: Option<u64>,
    ) -> Result<u64> {
        let mut total = 0;
        loop {
            let chunk = limit.map_or(ACTION_CHUNK, |l| (l - total).min(ACTION_CHUNK));
            if chunk == 0 {
                return Ok(total);
            }
            let n = self.write_here(|tx| {
                let mut st = tx.prepare_cached(delete)?;
                let mut bound: Vec<&dyn rusqlite::ToSql> = args.to_vec();
                let chunk_arg = chunk as i64;
                bound.insert(1, &chunk_arg);
                let ids = st
                    .query_map(bound.as_slice(), |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                let json = serde_json::to_string(&ids).expect("ids");
                tx.execute(DELETE_LOGS, params![json])?;
                Ok(ids.len() as u64)
            })?;
            total += n;
            if n < chunk {
                return Ok(total);
            }
        }
    }

    pub fn clean(&mut self, f: &CleanFilter) -> Result<u64> {
        let states = serde_json::to_string(
            &f.states.iter().map(|s| state_code(*s)).collect::<Vec<_>>(),
        )
        .expect("states");
        let (cutoff, name, queue) = (f.cutoff as i64, f.name.clone(), f.queue.clone());
        // `state IN (3, 4, 6)` lets the finished-tasks index serve the scan.
        self.delete_in_chunks(
            concat!("DELETE FROM tasks WHERE seq IN (
               SELECT seq FROM tasks WHERE state IN ", sql_state!(FINISHED), " AND completed_at <= ?3
                 AND state IN (SELECT value FROM json_each(?1))
                 AND (?4 IS NULL OR name = ?4) AND (?5 IS NULL OR queue = ?5)
               ORDER BY completed_at, seq LIMIT ?2)
             RETURNING id"),
            &[&states, &cutoff, &name, &queue],
            f.limit,
        )
    }

    pub fn drain(&mut self, queue: &str) -> Result<u64> {
        // Ready tasks through their lines' index, name by name; then the delayed ones.
        let names: Vec<String> = {
            let reader = self.reader()?;
            let mut st = reader
                .prepare_cached(
                    concat!("SELECT DISTINCT name FROM tasks WHERE state IN ", sql_state!(READY), " AND due_at IS NULL"),
                )
                .map_err(|e| query_error(&self.path, e))?;
            let rows = st
                .query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(|e| query_error(&self.path, e))?;
            rows
        };
        let queue = queue.to_string();
        let mut total = 0;
        for name in names {
            total += self.delete_in_chunks(
                concat!("DELETE FROM tasks WHERE seq IN (
                   SELECT seq FROM tasks WHERE name = ?3 AND queue = ?1 AND state IN ", sql_state!(READY), "
                     AND due_at IS NULL AND owner IS NULL LIMIT ?2)
                 RETURNING id"),
                &[&queue, &name],
                None,
            )?;
        }
        total += self.delete_in_chunks(
            concat!("DELETE FROM tasks WHERE seq IN (
               SELECT seq FROM tasks WHERE due_at IS NOT NULL AND queue = ?1 AND state IN ", sql_state!(READY), "
                 AND owner IS NULL LIMIT ?2)
             RETURNING id"),
            &[&queue],
            None,
        )?;
        Ok(total)
    }
}

impl SqliteStore {
    pub fn save_artifact(&mut self, task: &TaskId, doc: &str, max: usize) -> Result<Option<u64>> {
        let id = task.to_string();
        self.write_here(|tx| {
            if Self::state_in(tx, task)?.is_none() {
                return Ok(None);
            }
            let last: i64 = tx
                .prepare_cached("SELECT COALESCE(MAX(n), 0) FROM artifacts WHERE task_id = ?1")?
                .query_row(params![id], |r| r.get(0))?;
            if last as usize >= max {
                return Ok(Some(0));
            }
            tx.prepare_cached("INSERT INTO artifacts (task_id, n, doc) VALUES (?1, ?2, ?3)")?
                .execute(params![id, last + 1, doc])?;
            Ok(Some(last as u64 + 1))
        })
    }

    pub fn artifacts(&self, task: &TaskId) -> Result<Vec<(u64, String)>> {
        let reader = self.reader()?;
        let mut st = reader
            .prepare_cached("SELECT n, doc FROM artifacts WHERE task_id = ?1 ORDER BY n")
            .map_err(|e| query_error(&self.path, e))?;
        st.query_map(params![task.to_string()], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| query_error(&self.path, e))
    }
}

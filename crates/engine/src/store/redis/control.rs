//! Steering the work in Redis: paused queues (`{ns}:paused`, read by the claim script
//! in every process), and the task actions — retry, remove, clean, drain — each a Lua
//! script (`lua/requeue.lua`, `remove.lua`, `clean.lua`, `drain.lua`), the bulk ones
//! called a chunk at a time.

use super::keys;
use super::{state_of, RedisStore};
use crate::error::Result;
use crate::store::protocol::{state_code, ActionOutcome, CleanFilter, ACTION_CHUNK};
use crate::task::TaskId;

fn outcome(answer: &str) -> ActionOutcome {
    match answer {
        "missing" => ActionOutcome::Missing,
        a => match a.strip_prefix("state:") {
            Some(s) => ActionOutcome::WrongState(state_of(s)),
            None => ActionOutcome::Done,
        },
    }
}

impl RedisStore {
    pub fn set_queue_paused(&mut self, queue: &str, paused: bool, _now: u64) -> Result<bool> {
        let key = keys::paused(&self.prefix);
        let channel = keys::channel(&self.prefix);
        let (changed, _): (i64, i64) = self.read(|c| {
            redis::pipe()
                .atomic()
                .cmd(if paused { "SADD" } else { "SREM" })
                .arg(&key)
                .arg(queue)
                // Resumed: idle workers look for work at once.
                .cmd("PUBLISH")
                .arg(&channel)
                .arg("w")
                .query(c)
        })?;
        Ok(changed > 0)
    }

    pub fn paused_queues(&self) -> Result<Vec<String>> {
        let key = keys::paused(&self.prefix);
        let mut list: Vec<String> = self.read(|c| redis::cmd("SMEMBERS").arg(&key).query(c))?;
        list.sort();
        Ok(list)
    }

    pub fn requeue(&mut self, id: &TaskId) -> Result<ActionOutcome> {
        let mut cmd = self.scripts.call(&self.scripts.requeue, &self.prefix);
        cmd.arg(id.to_string());
        let answer: String = self.read(|c| cmd.query(c))?;
        Ok(outcome(&answer))
    }

    pub fn remove(&mut self, id: &TaskId) -> Result<ActionOutcome> {
        let mut cmd = self.scripts.call(&self.scripts.remove, &self.prefix);
        cmd.arg(id.to_string());
        let answer: String = self.read(|c| cmd.query(c))?;
        Ok(outcome(&answer))
    }

    fn names(&self) -> Result<Vec<String>> {
        let key = keys::names(&self.prefix);
        self.read(|c| redis::cmd("SMEMBERS").arg(&key).query(c))
    }

    pub fn clean(&mut self, f: &CleanFilter) -> Result<u64> {
        let names = match &f.name {
            Some(n) => vec![n.clone()],
            None => self.names()?,
        };
        let states: String = f.states.iter().map(|s| state_code(*s).to_string()).collect();
        let mut total = 0u64;
        for name in names {
            let mut skip = 0u64;
            loop {
                let chunk = f.limit.map_or(ACTION_CHUNK, |l| (l - total).min(ACTION_CHUNK));
                if chunk == 0 {
                    return Ok(total);
                }
                let mut cmd = self.scripts.call(&self.scripts.clean, &self.prefix);
                cmd.arg(&name)
                    .arg(f.cutoff)
                    .arg(&states)
                    .arg(f.queue.as_deref().unwrap_or(""))
                    .arg(skip)
                    .arg(chunk);
                let (removed, scanned): (u64, u64) = self.read(|c| cmd.query(c))?;
                total += removed;
                skip += scanned - removed;
                if scanned < chunk {
                    break;
                }
            }
        }
        Ok(total)
    }

    pub fn drain(&mut self, queue: &str) -> Result<u64> {
        let mut total = 0u64;
        let call = |mode: &str, name: &str, skip: u64| -> Result<(u64, u64)> {
            let mut cmd = self.scripts.call(&self.scripts.drain, &self.prefix);
            cmd.arg(mode).arg(queue).arg(name).arg(skip).arg(ACTION_CHUNK);
            self.read(|c| cmd.query(c))
        };
        for name in self.names()? {
            loop {
                let (removed, scanned) = call("ready", &name, 0)?;
                total += removed;
                if scanned < ACTION_CHUNK {
                    break;
                }
            }
        }
        let mut skip = 0;
        loop {
            let (removed, scanned) = call("delayed", "", skip)?;
            total += removed;
            skip += scanned - removed;
            if scanned < ACTION_CHUNK {
                break;
            }
        }
        Ok(total)
    }
}

impl RedisStore {
    pub fn save_artifact(&mut self, task: &TaskId, doc: &str, max: usize) -> Result<Option<u64>> {
        let mut cmd = self.scripts.call(&self.scripts.artifact, &self.prefix);
        cmd.arg(task.to_string()).arg(doc).arg(max);
        let answer: String = self.read(|c| cmd.query(c))?;
        Ok(answer.parse().ok())
    }

    pub fn artifacts(&self, task: &TaskId) -> Result<Vec<(u64, String)>> {
        let key = keys::artifacts(&self.prefix, task);
        let all: Vec<(String, String)> = self.read(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        let mut list: Vec<(u64, String)> = all
            .into_iter()
            .filter_map(|(n, doc)| n.parse().ok().map(|n| (n, doc)))
            .collect();
        list.sort_by_key(|(n, _)| *n);
        Ok(list)
    }
}

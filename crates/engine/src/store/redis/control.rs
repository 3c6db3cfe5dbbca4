//! Steering the work in Redis: paused queues (`{ns}:paused`, read by the claim script
//! in every process).

use super::RedisStore;
use crate::error::Result;

impl RedisStore {
    pub fn set_queue_paused(&mut self, queue: &str, paused: bool, _now: u64) -> Result<bool> {
        let key = format!("{}:paused", self.prefix);
        let channel = format!("{}:ev", self.prefix);
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
        let key = format!("{}:paused", self.prefix);
        let mut list: Vec<String> = self.read(|c| redis::cmd("SMEMBERS").arg(&key).query(c))?;
        list.sort();
        Ok(list)
    }
}

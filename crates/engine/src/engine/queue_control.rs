//! Queues as a whole: pausing and resuming them (across every process sharing a
//! durable store), and listing them with their counts.

use serde_json::{json, Value};

use super::Engine;
use crate::error::{EngineError, Result};
use crate::registry::validate_name;

impl Engine {
    /// Pauses or resumes `queue`: running tasks finish, nothing new of it starts,
    /// submits are still accepted. Whether that changed anything.
    pub fn set_queue_paused(&mut self, queue: &str, paused: bool) -> Result<bool> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        validate_name("queue", queue)?;
        let now = self.now();
        match &mut self.durable {
            Some(d) => d.store.set_queue_paused(queue, paused, now),
            None => {
                let q = self.queue_number(queue) as usize;
                let was = std::mem::replace(&mut self.queue_paused[q], paused);
                Ok(was != paused)
            }
        }
    }

    /// The paused queues, by name.
    pub fn paused_queues(&self) -> Result<Vec<String>> {
        match &self.durable {
            Some(d) => d.store.paused_queues(),
            None => {
                let mut list: Vec<String> = self
                    .queue_names
                    .iter()
                    .zip(&self.queue_paused)
                    .filter(|(_, p)| **p)
                    .map(|(n, _)| n.clone())
                    .collect();
                list.sort();
                Ok(list)
            }
        }
    }

    /// `[{ name, paused, counts }]` by name: every queue that holds tasks, is paused, or
    /// has a task registered here.
    pub fn queues_json(&self) -> Result<String> {
        let counts: Value = serde_json::from_str(&self.counts_json()?).expect("counts are JSON");
        let paused = self.paused_queues()?;
        let mut names: std::collections::BTreeSet<String> = paused.iter().cloned().collect();
        if let Some(q) = counts["queues"].as_object() {
            names.extend(q.keys().cloned());
        }
        for (_, d) in self.registry.iter() {
            if d.remote.is_none() {
                names.insert(d.queue.clone());
            }
        }
        let zero = counts["total"]
            .as_object()
            .map(|t| t.keys().map(|k| (k.clone(), json!(0))).collect::<serde_json::Map<_, _>>())
            .unwrap_or_default();
        let list: Vec<Value> = names
            .into_iter()
            .map(|name| {
                let c = counts["queues"]
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| Value::Object(zero.clone()));
                json!({ "name": name, "paused": paused.contains(&name), "counts": c })
            })
            .collect();
        Ok(serde_json::to_string(&list).expect("queues serialize"))
    }
}

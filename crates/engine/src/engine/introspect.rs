//! Looking over many tasks at once: `list` (a filtered page, oldest or newest first) and
//! `counts` (tasks per state, in total and per queue), on either store.

use serde_json::{json, Map, Value};

use super::Engine;
use crate::error::{EngineError, Result};
use crate::options::parse_json;
use crate::store::protocol::ListQuery;
use crate::task::TaskState;

pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1_000;

impl Engine {
    /// `{ tasks: [info…], cursor }`: a page of the tasks matching `query` (JSON:
    /// `state`, `name`, `queue`, `limit`, `cursor`, `order`); pass `cursor` back for the next page.
    pub fn list_json(&self, query: &str) -> Result<String> {
        let q: ListQuery = if query.is_empty() {
            ListQuery::default()
        } else {
            parse_json(query, "list() options")?
        };
        let limit = match q.limit {
            None => DEFAULT_PAGE,
            Some(l) if l.fract() == 0.0 && (1.0..=MAX_PAGE as f64).contains(&l) => l as usize,
            Some(l) => {
                return Err(EngineError::invalid(format!(
                    "`limit` must be a whole number from 1 to {MAX_PAGE}, got {l}"
                )))
            }
        };
        let state = q.state.as_deref().map(TaskState::parse).transpose()?;
        let newest = q.newest_first()?;
        if let Some(d) = &self.durable {
            // The cursor is the last row's seq: a page starts past it, either way.
            let after = match &q.cursor {
                None if newest => i64::MAX,
                None => 0,
                Some(c) => c
                    .parse::<i64>()
                    .map_err(|_| EngineError::invalid(format!("'{c}' is not a list() cursor")))?,
            };
            return Ok(d.store.list(&q, limit, after)?.to_string());
        }
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(
                uuid::Uuid::try_parse(c)
                    .map_err(|_| EngineError::invalid(format!("'{c}' is not a list() cursor")))?,
            ),
        };
        let mut matching: Vec<(uuid::Uuid, u32)> = self
            .store
            .iter()
            .filter(|(_, r)| {
                let d = self.registry.get(r.def);
                state.is_none_or(|s| r.state == s)
                    && q.name.as_deref().is_none_or(|n| d.name == n)
                    && q.queue.as_deref().is_none_or(|n| d.queue == n)
                    && after.is_none_or(|a| if newest { r.id < a } else { r.id > a })
            })
            .map(|(slot, r)| (r.id, slot))
            .collect();
        // Ids are UUIDv7: in the order the tasks were made.
        if newest {
            matching.sort_unstable_by(|a, b| b.cmp(a));
        } else {
            matching.sort_unstable();
        }
        let more = matching.len() > limit;
        matching.truncate(limit);
        let tasks: Vec<Value> = matching
            .iter()
            .map(|(_, slot)| {
                serde_json::from_str(&self.slot_info_json(*slot)).expect("info is JSON")
            })
            .collect();
        let cursor = if more {
            matching.last().map(|(id, _)| id.to_string())
        } else {
            None
        };
        Ok(json!({ "tasks": tasks, "cursor": cursor }).to_string())
    }

    /// `{ total: {STATE: n…}, queues: {queue: {STATE: n…}} }` over every stored task.
    pub fn counts_json(&self) -> Result<String> {
        let rows: Vec<(String, TaskState, u64)> = match &self.durable {
            Some(d) => d.store.counts()?,
            None => {
                let mut map: std::collections::BTreeMap<(String, usize), u64> = Default::default();
                for (_, r) in self.store.iter() {
                    let state = TaskState::ALL
                        .iter()
                        .position(|s| *s == r.state)
                        .expect("a state");
                    *map.entry((self.registry.get(r.def).queue.clone(), state))
                        .or_default() += 1;
                }
                map.into_iter()
                    .map(|((q, s), n)| (q, TaskState::ALL[s], n))
                    .collect()
            }
        };
        let zero = || {
            let mut m = Map::new();
            for s in TaskState::ALL {
                m.insert(s.as_str().to_string(), json!(0));
            }
            m
        };
        let mut total = zero();
        let mut queues = Map::new();
        for (queue, state, n) in rows {
            let key = state.as_str();
            total[key] = json!(total[key].as_u64().unwrap_or(0) + n);
            let q = queues.entry(queue).or_insert_with(|| Value::Object(zero()));
            q[key] = json!(q[key].as_u64().unwrap_or(0) + n);
        }
        Ok(json!({ "total": total, "queues": queues }).to_string())
    }
}

//! Artifacts: JSON documents a task saves while it runs (`ctx.saveArtifact(data, { tags })`),
//! the seed's intermediate results. They are kept in the task's store beside the task and
//! deleted with it. An artifact's id is `<task id>.<n>` (n = 1, 2, …), so it names its
//! task: any process sharing the store finds it without an index.
//!
//! Each store keeps an artifact as one JSON text, `{"createdAt":ms,"tags":[…],"data":…}`;
//! the views add `id` and `taskId`.

use super::Engine;
use crate::error::{EngineError, Result};
use crate::task::{parse_task_id, TaskId};

/// At most this many artifacts per task: a loop that saves on every item is a bug to
/// report, not a store to fill.
pub const MAX_ARTIFACTS_PER_TASK: usize = 10_000;

impl Engine {
    /// Saves an artifact of task `task` (which must be in the store); its id.
    pub fn save_artifact(&mut self, task: &str, data: &str, tags: &[String]) -> Result<String> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        let id = parse_task_id(task)?;
        if let Some(t) = tags.iter().find(|t| t.is_empty() || t.len() > 128) {
            return Err(EngineError::invalid(format!(
                "an artifact tag must be 1 to 128 characters, got '{t}'"
            )));
        }
        let doc = format!(
            r#"{{"createdAt":{},"tags":{},"data":{data}}}"#,
            self.now(),
            serde_json::to_string(tags).expect("tags serialize")
        );
        let n = match &mut self.durable {
            Some(d) => d.store.save_artifact(&id, &doc, MAX_ARTIFACTS_PER_TASK)?,
            None => {
                let slot = self.store.slot_of(&id).ok_or_else(|| EngineError::NotFound(task.to_string()))?;
                let list = &mut self.store.get_mut(slot).expect("slot exists").extra_mut().artifacts;
                if list.len() < MAX_ARTIFACTS_PER_TASK {
                    list.push(doc.into());
                    Some(list.len() as u64)
                } else {
                    return Err(too_many(task));
                }
            }
        };
        match n {
            Some(0) => Err(too_many(task)),
            Some(n) => Ok(format!("{task}.{n}")),
            None => Err(EngineError::NotFound(task.to_string())),
        }
    }

    /// The artifacts of task `task`, oldest first, as a JSON array (`[]` for a task
    /// without any, or one that is not in the store).
    pub fn artifacts_json(&self, task: &str) -> Result<String> {
        let id = parse_task_id(task)?;
        let list = self.stored_artifacts(&id)?;
        let views: Vec<String> = list.iter().map(|(n, doc)| view(task, *n, doc)).collect();
        Ok(format!("[{}]", views.join(",")))
    }

    /// One artifact by its id (`<task id>.<n>`), as JSON; None when there is none.
    pub fn artifact_json(&self, artifact: &str) -> Result<Option<String>> {
        let (task, n) = parse_artifact_id(artifact)?;
        let list = self.stored_artifacts(&task)?;
        Ok(list
            .iter()
            .find(|(m, _)| *m == n)
            .map(|(n, doc)| view(&task.to_string(), *n, doc)))
    }

    fn stored_artifacts(&self, task: &TaskId) -> Result<Vec<(u64, String)>> {
        match &self.durable {
            Some(d) => d.store.artifacts(task),
            None => Ok(self
                .store
                .slot_of(task)
                .and_then(|slot| self.store.get(slot))
                .and_then(|r| r.extra.as_ref())
                .map(|x| {
                    x.artifacts
                        .iter()
                        .enumerate()
                        .map(|(i, d)| (i as u64 + 1, d.to_string()))
                        .collect()
                })
                .unwrap_or_default()),
        }
    }
}

fn too_many(task: &str) -> EngineError {
    EngineError::invalid(format!(
        "task {task} already saved {MAX_ARTIFACTS_PER_TASK} artifacts, the most one task may keep"
    ))
}

/// `<task id>.<n>` → (task, n).
pub fn parse_artifact_id(text: &str) -> Result<(TaskId, u64)> {
    let bad = || EngineError::invalid(format!("'{text}' is not an artifact id (expected '<task id>.<n>')"));
    let (task, n) = text.rsplit_once('.').ok_or_else(bad)?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    Ok((parse_task_id(task).map_err(|_| bad())?, n))
}

/// A stored document with its `id` and `taskId` in front.
fn view(task: &str, n: u64, doc: &str) -> String {
    format!(r#"{{"id":"{task}.{n}","taskId":"{task}",{}"#, &doc[1..])
}

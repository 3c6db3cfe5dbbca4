//! The engine's side of workflows: checking a spec against the registry and planning the
//! next step for a coordinator (see `crate::workflow`).

use serde_json::json;

use super::Engine;
use crate::error::{EngineError, Result};
use crate::workflow::{member_key, parse_outcomes, plan_json, Workflow};

/// The task name of workflow coordinators.
pub const WORKFLOW_TASK: &str = "taskloom-workflow";

impl Engine {
    /// Checks a workflow spec: its shape, and that every member's task is registered
    /// here. Returns its members as JSON: `[{ member, name, path, key }]` (`key` with
    /// `workflow_id` set, else null).
    pub fn workflow_members(&self, spec: &str, workflow_id: Option<&str>) -> Result<String> {
        let wf = Workflow::parse(spec)?;
        let mut out = Vec::with_capacity(wf.members().len());
        for (i, m) in wf.members().iter().enumerate() {
            if m.name == WORKFLOW_TASK || self.registry.index_of(&m.name).is_err() {
                return Err(EngineError::invalid(format!(
                    "{}: unknown task '{}': register it first with ex.register('{}', handler)",
                    m.path, m.name, m.name
                )));
            }
            out.push(json!({
                "member": i,
                "name": m.name,
                "path": m.path,
                "hasPrevious": m.has_previous,
                "key": workflow_id.map(|id| member_key(id, i)),
            }));
        }
        Ok(serde_json::Value::Array(out).to_string())
    }

    /// Whether member `member` of a workflow gets a previous result (as the first value
    /// of its argument list): what `ctx.previous` reads.
    pub fn workflow_member_has_previous(&self, spec: &str, member: usize) -> Result<bool> {
        let wf = Workflow::parse(spec)?;
        Ok(wf.members().get(member).is_some_and(|m| m.has_previous))
    }

    /// What a coordinator does next, given its members' outcomes (see
    /// `workflow::plan_json` and `workflow::parse_outcomes`).
    pub fn workflow_plan(&self, workflow_id: &str, spec: &str, outcomes: &str) -> Result<String> {
        let wf = Workflow::parse(spec)?;
        let outcomes = parse_outcomes(outcomes)?;
        Ok(plan_json(workflow_id, &wf.plan(&outcomes)).to_string())
    }
}

impl Engine {
    /// The id of the task holding idempotency key `key`, if any.
    pub fn id_by_key(&self, key: &str) -> Result<Option<String>> {
        match &self.durable {
            Some(d) => Ok(d.store.id_by_key(key)?.map(|id| id.to_string())),
            None => Ok(self
                .store
                .slot_of_key(key)
                .and_then(|slot| self.store.get(slot))
                .map(|r| r.id.to_string())),
        }
    }
}

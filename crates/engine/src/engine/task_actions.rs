//! Acting on stored tasks after the fact: `ex.retry(id)`, `ex.remove(id)`,
//! `ex.clean(filter)` and `ex.drain(queue)`, on the memory store here and on a durable
//! store through its `DurableStore` methods (which reach every process sharing it).

use serde::Deserialize;

use super::Engine;
use crate::error::{EngineError, Result};
use crate::options::{parse_json, whole_number};
use crate::registry::validate_name;
use crate::store::protocol::{ActionOutcome, CleanFilter};
use crate::task::{parse_task_id, TaskState};

/// The options object of `ex.clean(…)`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CleanSpec {
    /// One final state or a list of them; default all three.
    state: Option<StateOrStates>,
    older_than_ms: Option<f64>,
    name: Option<String>,
    queue: Option<String>,
    limit: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StateOrStates {
    One(String),
    Many(Vec<String>),
}

const FINAL: [TaskState; 3] = [TaskState::Success, TaskState::Failure, TaskState::Revoked];

fn clean_filter(json: &str, now: u64) -> Result<CleanFilter> {
    let spec: CleanSpec = if json.is_empty() {
        CleanSpec::default()
    } else {
        parse_json(json, "clean() options")?
    };
    let states = match spec.state {
        None => FINAL.to_vec(),
        Some(StateOrStates::One(s)) => vec![final_state(&s)?],
        Some(StateOrStates::Many(list)) if list.is_empty() => {
            return Err(EngineError::invalid("`state` must name at least one state"))
        }
        Some(StateOrStates::Many(list)) => {
            list.iter().map(|s| final_state(s)).collect::<Result<Vec<_>>>()?
        }
    };
    let older = spec.older_than_ms.map(|v| whole_number("olderThanMs", v)).transpose()?;
    let limit = spec.limit.map(|v| whole_number("limit", v)).transpose()?;
    if limit == Some(0) {
        return Err(EngineError::invalid("`limit` must be at least 1"));
    }
    if let Some(n) = &spec.name {
        validate_name("task", n)?;
    }
    if let Some(q) = &spec.queue {
        validate_name("queue", q)?;
    }
    Ok(CleanFilter {
        states,
        cutoff: now.saturating_sub(older.unwrap_or(0)),
        name: spec.name,
        queue: spec.queue,
        limit,
    })
}

fn final_state(s: &str) -> Result<TaskState> {
    let state = TaskState::parse(s)?;
    if !state.is_final() {
        return Err(EngineError::invalid(format!(
            "clean() deletes finished tasks: `state` must be SUCCESS, FAILURE or REVOKED, got {s}"
        )));
    }
    Ok(state)
}

fn refused(id: &str, state: TaskState, action: &str) -> EngineError {
    EngineError::State(format!("task {id} is {state}: {action}"))
}

const RETRY_RULE: &str = "only a FAILURE or REVOKED task can be retried";
const REMOVE_RULE: &str =
    "only a finished task can be removed (cancel it first, or drain its queue)";

impl Engine {
    /// `ex.retry(id)`: a FAILURE or REVOKED task waits to run again, keeping its
    /// attempts and its last error (so its retry policy does not start over: a failed
    /// re-run is final).
    pub fn retry_task(&mut self, id: &str) -> Result<()> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        let parsed = parse_task_id(id)?;
        let now = self.now();
        if self.durable.is_some() {
            // An outcome of this process that info() already shows is committed first:
            // the store must hold it before it can act on it.
            self.commit_outcome_of(&parsed);
            // A finished run of this process leaves its memory first, so that a claim
            // of the retried task is not mistaken for it.
            self.durable_evict(now);
            if let Some(slot) = self.local_slot(id)? {
                let s = self.store.get(slot).expect("slot exists").state;
                return Err(refused(id, s, RETRY_RULE));
            }
            let d = self.durable.as_mut().expect("durable");
            return match d.store.requeue(&parsed)? {
                ActionOutcome::Done => Ok(()),
                ActionOutcome::Missing => Err(EngineError::NotFound(id.to_string())),
                ActionOutcome::WrongState(s) => Err(refused(id, s, RETRY_RULE)),
            };
        }
        let slot = self.local_slot(id)?.expect("memory slot");
        let r = self.store.get(slot).expect("slot exists");
        if !matches!(r.state, TaskState::Failure | TaskState::Revoked) {
            return Err(refused(id, r.state, RETRY_RULE));
        }
        self.store.revive(slot, now);
        self.note_state(slot, TaskState::Pending);
        Ok(())
    }

    /// `ex.remove(id)`: deletes a finished task and its logs.
    pub fn remove_task(&mut self, id: &str) -> Result<()> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        let parsed = parse_task_id(id)?;
        if self.durable.is_some() {
            let now = self.now();
            self.commit_outcome_of(&parsed);
            self.durable_evict(now);
            if let Some(slot) = self.local_slot(id)? {
                let s = self.store.get(slot).expect("slot exists").state;
                return Err(refused(id, s, REMOVE_RULE));
            }
            let d = self.durable.as_mut().expect("durable");
            return match d.store.remove(&parsed)? {
                ActionOutcome::Done => Ok(()),
                ActionOutcome::Missing => Err(EngineError::NotFound(id.to_string())),
                ActionOutcome::WrongState(s) => Err(refused(id, s, REMOVE_RULE)),
            };
        }
        let slot = self.local_slot(id)?.expect("memory slot");
        let state = self.store.get(slot).expect("slot exists").state;
        if !state.is_final() {
            return Err(refused(id, state, REMOVE_RULE));
        }
        self.render_state_events(&[slot]);
        self.store.forget(slot);
        Ok(())
    }

    /// `ex.clean(filter)`: deletes the finished tasks the filter (JSON) matches; how many.
    pub fn clean_tasks(&mut self, filter_json: &str) -> Result<u64> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        let f = clean_filter(filter_json, self.now())?;
        if let Some(d) = &mut self.durable {
            return d.store.clean(&f);
        }
        let mut slots: Vec<(u64, u32)> = self
            .store
            .iter()
            .filter(|(_, r)| {
                let def = self.registry.get(r.def);
                r.state.is_final() && f.matches(r.state, r.completed_at, &def.name, &def.queue)
            })
            .map(|(slot, r)| (r.completed_at, slot))
            .collect();
        // The oldest first, as the durable stores do.
        slots.sort_unstable();
        if let Some(limit) = f.limit {
            slots.truncate(limit as usize);
        }
        let gone: Vec<u32> = slots.iter().map(|s| s.1).collect();
        self.render_state_events(&gone);
        for slot in gone {
            self.store.forget(slot);
        }
        Ok(slots.len() as u64)
    }

    /// `ex.drain(queue)`: deletes the queue's tasks waiting to run (PENDING, delayed,
    /// RETRY waiting for its delay), not running ones. Returns how many, and (memory
    /// store) the slots and ids of those someone awaited: the host rejects their waiters now.
    pub fn drain_queue(&mut self, queue: &str) -> Result<(u64, Vec<(u32, String)>)> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        validate_name("queue", queue)?;
        if let Some(d) = &mut self.durable {
            let n = d.store.drain(queue)?;
            self.recheck_remote_watches();
            return Ok((n, Vec::new()));
        }
        let doomed: Vec<(u32, bool, crate::task::TaskId)> = self
            .store
            .iter()
            .filter(|(_, r)| {
                matches!(r.state, TaskState::Pending | TaskState::Retry)
                    && self.registry.get(r.def).queue == queue
            })
            .map(|(slot, r)| (slot, r.watched, r.id))
            .collect();
        let gone: Vec<u32> = doomed.iter().map(|d| d.0).collect();
        self.render_state_events(&gone);
        let mut watched = Vec::new();
        for (slot, w, id) in &doomed {
            self.store.forget(*slot);
            if *w {
                watched.push((*slot, id.to_string()));
            }
        }
        Ok((doomed.len() as u64, watched))
    }
}

impl Engine {
    /// Waits for the writer when this process holds `id` with a final outcome that is not
    /// committed yet (a moment at most).
    fn commit_outcome_of(&mut self, id: &crate::task::TaskId) {
        let pending = self.durable.as_ref().and_then(|d| d.slot_of(id)).is_some_and(|slot| {
            self.store
                .get(slot)
                .is_some_and(|r| r.committing && r.state.is_final())
        });
        if pending {
            self.flush();
        }
    }
}

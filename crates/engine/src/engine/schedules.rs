//! The engine's side of cron schedules: declaring, listing, pausing and removing them in
//! the store, and firing the ticks that came due (see `crate::schedule`).

use serde::Deserialize;
use serde_json::{json, Value};

use super::Engine;
use crate::error::{EngineError, Result};
use crate::options::{parse_json, SubmitOptions};
use crate::schedule::{decide, tick_key, CronSpec, Missed, ScheduleDef};
use crate::store::protocol::NewTask;
use crate::task::new_task_id;

/// `ex.schedule(name, cron, payload, options)` as JSON from the host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ScheduleSpec {
    name: String,
    cron: String,
    /// JSON text of the payload.
    payload: String,
    id: Option<String>,
    tz: Option<String>,
    missed: Option<String>,
}

/// The memory store's schedules: definition (JSON) and next tick, by id.
pub(super) type MemorySchedules = std::collections::BTreeMap<String, (String, u64)>;

impl Engine {
    fn schedules_stored(&self) -> Result<Vec<(String, u64)>> {
        match &self.durable {
            Some(d) => d.store.schedules(),
            None => Ok(self.schedules.values().cloned().collect()),
        }
    }

    fn schedule_write(&mut self, def: &ScheduleDef, next_at: u64) -> Result<()> {
        let doc = serde_json::to_string(def).expect("schedules serialize");
        match &mut self.durable {
            Some(d) => d.store.put_schedule(&def.id, &doc, next_at),
            None => {
                self.schedules.insert(def.id.clone(), (doc, next_at));
                Ok(())
            }
        }
    }

    fn schedule_find(&self, id: &str) -> Result<Option<(ScheduleDef, u64)>> {
        Ok(self
            .schedules_stored()?
            .into_iter()
            .filter_map(|(doc, at)| Some((serde_json::from_str::<ScheduleDef>(&doc).ok()?, at)))
            .find(|(d, _)| d.id == id))
    }

    /// Declares (or re-declares) a schedule; returns its info as JSON. Declaring the same
    /// id again updates it and keeps its next tick and paused state when the expression
    /// and time zone are unchanged: a process that declares its schedules on every start
    /// does not create them twice.
    pub fn schedule(&mut self, spec_json: &str) -> Result<String> {
        if self.closed {
            return Err(EngineError::Closed);
        }
        let spec: ScheduleSpec = parse_json(spec_json, "schedule options")?;
        let task = self.registry.index_of(&spec.name)?;
        self.check_payload(task, &spec.payload)?;
        let cron = CronSpec::parse(&spec.cron, spec.tz.as_deref())?;
        let missed = spec
            .missed
            .as_deref()
            .map(Missed::parse)
            .transpose()?
            .unwrap_or(Missed::RunOnce);
        let id = match spec.id {
            Some(id) if id.is_empty() || id.len() > 200 => {
                return Err(EngineError::invalid(format!(
                    "a schedule `id` must be 1 to 200 characters, got '{id}'"
                )))
            }
            Some(id) => id,
            None => match &spec.tz {
                Some(tz) => format!("{}@{}@{tz}", spec.name, spec.cron),
                None => format!("{}@{}", spec.name, spec.cron),
            },
        };
        let now = self.now();
        let existing = self.schedule_find(&id)?;
        let mut def = ScheduleDef {
            id,
            name: spec.name,
            cron: spec.cron,
            tz: spec.tz,
            payload: spec.payload,
            missed,
            paused: false,
            created_at: now,
        };
        let mut next_at = cron.next_after(now).ok_or_else(|| {
            EngineError::invalid(format!("cron expression '{}' never ticks", def.cron))
        })?;
        if let Some((old, old_next)) = existing {
            def.paused = old.paused;
            def.created_at = old.created_at;
            if old.cron == def.cron && old.tz == def.tz {
                next_at = old_next;
            }
        }
        self.schedule_write(&def, next_at)?;
        Ok(schedule_info(&def, next_at).to_string())
    }

    /// Every schedule's info, as a JSON array.
    pub fn schedules_json(&self) -> Result<String> {
        let list: Vec<Value> = self
            .schedules_stored()?
            .into_iter()
            .filter_map(|(doc, at)| {
                let def: ScheduleDef = serde_json::from_str(&doc).ok()?;
                Some(schedule_info(&def, at))
            })
            .collect();
        Ok(Value::Array(list).to_string())
    }

    /// Pauses or resumes a schedule; returns its info. A resumed schedule runs from its
    /// next tick on: the ticks it missed while paused do not run.
    pub fn set_schedule_paused(&mut self, id: &str, paused: bool) -> Result<String> {
        let (mut def, mut next_at) = self
            .schedule_find(id)?
            .ok_or_else(|| EngineError::invalid(format!("no schedule with id '{id}'")))?;
        def.paused = paused;
        if !paused {
            let cron = CronSpec::parse(&def.cron, def.tz.as_deref())?;
            next_at = cron.next_after(self.now()).unwrap_or(u64::MAX / 2);
        }
        self.schedule_write(&def, next_at)?;
        Ok(schedule_info(&def, next_at).to_string())
    }

    /// Removes a schedule; whether it existed.
    pub fn remove_schedule(&mut self, id: &str) -> Result<bool> {
        match &mut self.durable {
            Some(d) => d.store.remove_schedule(id),
            None => Ok(self.schedules.remove(id).is_some()),
        }
    }

    /// Submits a task for each schedule tick that came due, once per tick across every
    /// process on the store (the task's key names the tick). Only schedules whose task is
    /// registered here run here. Returns the next tick among them, if any.
    pub fn fire_schedules(&mut self) -> Result<Option<u64>> {
        if !self.cfg.worker || self.closed {
            return Ok(None);
        }
        let now = self.now();
        let mut earliest: Option<u64> = None;
        for (doc, next_at) in self.schedules_stored()? {
            let Ok(def) = serde_json::from_str::<ScheduleDef>(&doc) else {
                continue;
            };
            let Ok(task) = self.registry.index_of(&def.name) else {
                continue;
            };
            if def.paused {
                continue;
            }
            let Ok(cron) = CronSpec::parse(&def.cron, def.tz.as_deref()) else {
                continue;
            };
            let mut next = next_at;
            if let Some(decision) = decide(&cron, def.missed, next_at, now) {
                if let Some(tick) = decision.fire {
                    self.submit_tick(task, &def, tick, now)?;
                }
                next = decision.next_at.unwrap_or(u64::MAX / 2);
                match &mut self.durable {
                    Some(d) => d.store.advance_schedule(&def.id, next)?,
                    None => {
                        if let Some(entry) = self.schedules.get_mut(&def.id) {
                            entry.1 = entry.1.max(next);
                        }
                    }
                }
            }
            earliest = Some(earliest.map_or(next, |e| e.min(next)));
        }
        Ok(earliest)
    }

    /// Submits the task of `def`'s tick `tick` under the tick's key (committed before
    /// this returns, so that the schedule only moves on once its tick is stored).
    fn submit_tick(&mut self, task: u32, def: &ScheduleDef, tick: u64, now: u64) -> Result<()> {
        let key = tick_key(&def.id, tick);
        if self.durable.is_none() {
            let opts = SubmitOptions {
                key: Some(key),
                ..SubmitOptions::default()
            };
            self.submit(task, [def.payload.as_str()], &opts)?;
            return Ok(());
        }
        let d = self.registry.get(task);
        let t = NewTask {
            id: new_task_id(),
            name: d.name.as_str().into(),
            queue: d.queue.as_str().into(),
            priority: d.priority,
            max_attempts: self.registry.retry_policy(task).max_retries + 1,
            payload: def.payload.as_str().into(),
            key: Some(key),
            created_at: now,
            run_at: 0,
            trace: None,
        };
        let dur = self.durable.as_mut().expect("durable");
        dur.store.insert_now(&[t], now)?;
        Ok(())
    }
}

fn schedule_info(def: &ScheduleDef, next_at: u64) -> Value {
    json!({
        "id": def.id,
        "name": def.name,
        "cron": def.cron,
        "tz": def.tz,
        "payload": def.payload, // its JSON text (see `TaskInfoView`)
        "missed": def.missed,
        "paused": def.paused,
        "nextRunAt": (!def.paused && next_at < u64::MAX / 2).then_some(next_at),
        "createdAt": def.created_at,
    })
}

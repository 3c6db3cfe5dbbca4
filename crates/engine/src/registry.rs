//! Task definitions: what a name means — its queue, tags, description, parameter spec
//! and per-task policies — and the registry that owns them.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::params::{Parameter, Params};
use crate::options::{parse_json, positive_whole_number, priority, KeepResultsSpec};
use crate::policy::{BreakerConfig, BreakerSpec, Rate, RateLimitSpec, RetryPolicy, RetrySpec};

/// Names of tasks and queues are URL-safe so that they can appear in paths and keys.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 {
        return Err(EngineError::invalid(format!(
            "{kind} name must be 1 to 128 characters, got '{name}'"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(EngineError::invalid(format!(
            "{kind} name '{name}' is not URL-safe: use only letters, digits, '_' and '-'"
        )));
    }
    Ok(())
}

/// The options object of `ex.register(name, handler, options)`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskOptionsSpec {
    pub queue: Option<String>,
    pub tags: Option<Vec<String>>,
    pub description: Option<String>,
    /// The payload's JSON Schema, or the `{ name: 'type' }` shorthand (params.rs).
    pub params: Option<Value>,
    pub retry: Option<RetrySpec>,
    pub timeout_ms: Option<f64>,
    pub max_parallel: Option<f64>,
    pub priority: Option<f64>,
    pub rate_limit: Option<RateLimitSpec>,
    pub circuit_breaker: Option<BreakerSpec>,
    /// This task's own retention of finished tasks (fields override the executor's).
    pub keep_results: Option<KeepResultsSpec>,
    /// Slots of the executor's `concurrency` one run takes: a number or a size name.
    pub size: Option<Value>,
}

/// Slots one run of a task takes by size name (the seed's resource hint).
const SIZE_NAMES: [(&str, u32); 3] = [("small", 1), ("medium", 2), ("large", 4)];

/// `size` as slots: a positive whole number, or `'small' | 'medium' | 'large'` (1, 2, 4).
pub fn size_slots(name: &str, size: &Value) -> Result<u32> {
    let bad = || {
        EngineError::invalid(format!(
            "`size` of task '{name}' must be a positive whole number of slots or 'small', 'medium', 'large', got {size}"
        ))
    };
    match size {
        Value::String(s) => SIZE_NAMES
            .iter()
            .find(|(n, _)| n == s)
            .map(|(_, slots)| *slots)
            .ok_or_else(bad),
        Value::Number(n) => {
            let n = n.as_f64().ok_or_else(bad)?;
            let n = positive_whole_number("size", n).map_err(|_| bad())?;
            u32::try_from(n).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// A registered task.
#[derive(Debug, Clone)]
pub struct TaskDef {
    pub name: String,
    pub queue: String,
    pub tags: Vec<String>,
    pub description: Option<String>,
    /// Every payload is checked against it before it is enqueued.
    pub params: Option<Params>,
    pub retry: Option<RetrySpec>,
    pub timeout_ms: Option<u64>,
    pub max_parallel: Option<u32>,
    pub priority: i32,
    pub rate_limit: Option<Rate>,
    pub circuit_breaker: Option<BreakerConfig>,
    pub keep_results: Option<KeepResultsSpec>,
    /// Slots of the executor's `concurrency` one run takes (default 1).
    pub size: u32,
    /// A task this process submits but does not run (a producer on a durable store):
    /// its definition comes from the store's shared registry, if a worker published one.
    pub remote: Option<RemoteDef>,
}

/// Where a remote definition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteDef {
    /// A worker published this definition; false: none is known yet, so a submit's
    /// `queue` (else `default`) decides the queue.
    pub known: bool,
    /// When the store was last asked (ms).
    pub checked_at: u64,
}

/// What `ex.tasks()` / `ex.info(name)` show of a definition.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefInfo<'a> {
    pub name: &'a str,
    pub queue: &'a str,
    pub tags: &'a [String],
    pub description: Option<&'a str>,
    /// The JSON Schema of the payload (the shorthand expanded).
    pub params: Option<&'a Value>,
    /// The schema's top-level properties, as the HTTP API lists them.
    pub parameters: Vec<Parameter>,
    /// `(a: integer, b: integer)`, from the schema.
    pub signature: String,
    pub timeout_ms: Option<u64>,
    pub max_parallel: Option<u32>,
    /// Slots of the executor's `concurrency` one run takes.
    pub size: u32,
    pub priority: i32,
    pub retry: RetryInfo,
    pub rate_limit: Option<RateInfo>,
    pub circuit_breaker: Option<BreakerInfo>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateInfo {
    pub limit: u32,
    pub interval_ms: u64,
    pub burst: u32,
}

impl From<Rate> for RateInfo {
    fn from(r: Rate) -> Self {
        RateInfo {
            limit: r.limit,
            interval_ms: r.interval_ms,
            burst: r.burst,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerInfo {
    pub failure_threshold: Option<u32>,
    pub failure_rate: Option<serde_json::Value>,
    pub reset_timeout_ms: u64,
    pub max_reset_timeout_ms: Option<u64>,
    pub half_open_trials: u32,
    pub on_open: &'static str,
}

impl From<&BreakerConfig> for BreakerInfo {
    fn from(b: &BreakerConfig) -> Self {
        BreakerInfo {
            failure_threshold: b.failure_threshold,
            failure_rate: b.failure_rate.map(|(threshold, window_ms, min_requests)| {
                serde_json::json!({ "threshold": threshold, "windowMs": window_ms, "minRequests": min_requests })
            }),
            reset_timeout_ms: b.reset_timeout_ms,
            max_reset_timeout_ms: b.max_reset_timeout_ms,
            half_open_trials: b.half_open_trials,
            on_open: match b.on_open {
                crate::policy::breaker::OnOpen::Wait => "wait",
                crate::policy::breaker::OnOpen::Fail => "fail",
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryInfo {
    pub max_retries: u32,
    pub backoff: &'static str,
    pub delay_ms: u64,
    pub max_delay_ms: u64,
    pub jitter: bool,
}

impl From<&RetryPolicy> for RetryInfo {
    fn from(p: &RetryPolicy) -> Self {
        RetryInfo {
            max_retries: p.max_retries,
            backoff: match p.backoff {
                crate::policy::Backoff::Fixed => "fixed",
                crate::policy::Backoff::Exponential => "exponential",
            },
            delay_ms: p.delay_ms,
            max_delay_ms: p.max_delay_ms,
            jitter: p.jitter,
        }
    }
}

impl TaskDef {
    pub fn from_spec(name: &str, spec: TaskOptionsSpec) -> Result<TaskDef> {
        validate_name("task", name)?;
        let queue = spec.queue.unwrap_or_else(|| "default".to_string());
        validate_name("queue", &queue)?;
        let tags = spec.tags.unwrap_or_default();
        for t in &tags {
            if t.is_empty() {
                return Err(EngineError::invalid(format!(
                    "task '{name}': tags must be non-empty strings"
                )));
            }
        }
        if let Some(r) = &spec.retry {
            r.validate("retry")?;
        }
        let timeout_ms = spec
            .timeout_ms
            .map(|t| positive_whole_number("timeoutMs", t))
            .transpose()?;
        let max_parallel = spec
            .max_parallel
            .map(|m| {
                positive_whole_number("maxParallel", m).and_then(|m| {
                    u32::try_from(m).map_err(|_| EngineError::invalid("`maxParallel` is too large"))
                })
            })
            .transpose()?;
        let priority = spec
            .priority
            .map(|p| priority("priority", p))
            .transpose()?
            .unwrap_or(0);
        let rate_limit = spec
            .rate_limit
            .map(|r| r.validate("rateLimit"))
            .transpose()?;
        let circuit_breaker = spec.circuit_breaker.map(|b| b.validate()).transpose()?;
        let size = spec.size.as_ref().map(|s| size_slots(name, s)).transpose()?.unwrap_or(1);
        if let Some(k) = &spec.keep_results {
            k.overlay((0, None), "keepResults")?; // validates; resolved against the executor's
        }
        Ok(TaskDef {
            name: name.to_string(),
            queue,
            tags,
            description: spec.description,
            params: spec.params.map(|p| Params::from_spec(name, p)).transpose()?,
            retry: spec.retry,
            timeout_ms,
            max_parallel,
            priority,
            rate_limit,
            circuit_breaker,
            keep_results: spec.keep_results,
            size,
            remote: None,
        })
    }

    pub fn from_json(name: &str, options_json: &str) -> Result<TaskDef> {
        let spec: TaskOptionsSpec = if options_json.is_empty() {
            TaskOptionsSpec::default()
        } else {
            parse_json(options_json, &format!("options for task '{name}'"))?
        };
        Self::from_spec(name, spec)
    }

    /// Checks a payload (JSON text) against the definition's params, if it has any.
    pub fn check_payload(&self, payload: &str) -> Result<()> {
        match &self.params {
            Some(p) => p.check(&self.name, payload),
            None => Ok(()),
        }
    }

    /// True when the definition carries every tag in `tags`.
    pub fn has_tags(&self, tags: &[String]) -> bool {
        tags.iter().all(|t| self.tags.contains(t))
    }
}

/// All definitions of one executor; a definition's index is stable for its lifetime.
#[derive(Debug, Default)]
pub struct Registry {
    defs: Vec<TaskDef>,
    /// The resolved retry policy of each definition (task spec over executor default).
    retry: Vec<RetryPolicy>,
    by_name: FxHashMap<String, u32>,
}

impl Registry {
    pub fn add(&mut self, def: TaskDef, executor_retry: &RetryPolicy) -> Result<u32> {
        if self.by_name.contains_key(&def.name) {
            return Err(EngineError::DuplicateTask(def.name));
        }
        let retry = match &def.retry {
            Some(spec) => spec.overlay(executor_retry, "retry")?,
            None => executor_retry.clone(),
        };
        let idx = self.defs.len() as u32;
        self.by_name.insert(def.name.clone(), idx);
        self.defs.push(def);
        self.retry.push(retry);
        Ok(idx)
    }

    /// Replaces definition `idx` in place (a remote definition refreshed from the store,
    /// or taken over by a handler registered here); the name stays the same.
    pub fn replace(&mut self, idx: u32, def: TaskDef, executor_retry: &RetryPolicy) -> Result<()> {
        let retry = match &def.retry {
            Some(spec) => spec.overlay(executor_retry, "retry")?,
            None => executor_retry.clone(),
        };
        self.defs[idx as usize] = def;
        self.retry[idx as usize] = retry;
        Ok(())
    }

    pub fn index_of(&self, name: &str) -> Result<u32> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| EngineError::UnknownTask(name.to_string()))
    }

    pub fn get(&self, idx: u32) -> &TaskDef {
        &self.defs[idx as usize]
    }

    pub fn retry_policy(&self, idx: u32) -> &RetryPolicy {
        &self.retry[idx as usize]
    }

    pub fn find(&self, name: &str) -> Option<&TaskDef> {
        self.by_name.get(name).map(|i| &self.defs[*i as usize])
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &TaskDef)> {
        self.defs.iter().enumerate().map(|(i, d)| (i as u32, d))
    }

    pub fn info(&self, idx: u32) -> TaskDefInfo<'_> {
        let d = self.get(idx);
        TaskDefInfo {
            name: &d.name,
            queue: &d.queue,
            tags: &d.tags,
            description: d.description.as_deref(),
            params: d.params.as_ref().map(Params::schema),
            parameters: d.params.as_ref().map(Params::parameters).unwrap_or_default(),
            signature: d.params.as_ref().map_or_else(|| "()".to_string(), Params::signature),
            timeout_ms: d.timeout_ms,
            max_parallel: d.max_parallel,
            size: d.size,
            priority: d.priority,
            retry: self.retry_policy(idx).into(),
            rate_limit: d.rate_limit.map(Into::into),
            circuit_breaker: d.circuit_breaker.as_ref().map(Into::into),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_slots_or_size_names() {
        let slots = |v: Value| size_slots("t", &v);
        assert_eq!(slots(serde_json::json!("small")).unwrap(), 1);
        assert_eq!(slots(serde_json::json!("medium")).unwrap(), 2);
        assert_eq!(slots(serde_json::json!("large")).unwrap(), 4);
        assert_eq!(slots(serde_json::json!(3)).unwrap(), 3);
        for bad in [serde_json::json!(0), serde_json::json!(1.5), serde_json::json!(-2), serde_json::json!("huge"), serde_json::json!(null), serde_json::json!(true)] {
            let e = slots(bad.clone()).unwrap_err().to_string();
            assert!(e.contains("`size` of task 't'") && e.contains(&bad.to_string()), "{bad}: {e}");
        }
        assert_eq!(TaskDef::from_json("t", "").unwrap().size, 1, "default one slot");
        assert_eq!(TaskDef::from_json("t", r#"{"size":"large"}"#).unwrap().size, 4);
    }

    #[test]
    fn names_must_be_url_safe() {
        assert!(validate_name("task", "send-email_v2").is_ok());
        for bad in ["", "a b", "a/b", "é", "x?y"] {
            assert!(validate_name("task", bad).is_err(), "{bad:?}");
        }
        assert!(validate_name("task", &"a".repeat(129)).is_err());
    }

    #[test]
    fn registration_is_unique_and_resolves_retry() {
        let mut r = Registry::default();
        let base = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let add = TaskDef::from_json(
            "add",
            r#"{"queue":"math","tags":["math"],"retry":{"delayMs":5}}"#,
        )
        .unwrap();
        let i = r.add(add, &base).unwrap();
        assert_eq!(r.retry_policy(i).max_retries, 2);
        assert_eq!(r.retry_policy(i).delay_ms, 5);
        assert_eq!(r.get(i).queue, "math");
        let again = TaskDef::from_json("add", "").unwrap();
        assert_eq!(
            r.add(again, &base).unwrap_err(),
            EngineError::DuplicateTask("add".into())
        );
        assert!(matches!(
            r.index_of("nope"),
            Err(EngineError::UnknownTask(_))
        ));
    }

    #[test]
    fn bad_options_are_named() {
        let e = TaskDef::from_json("t", r#"{"maxParallel":0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("maxParallel"), "{e}");
        let e = TaskDef::from_json("t", r#"{"timeoutMs":-1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeoutMs"), "{e}");
        let e = TaskDef::from_json("t", r#"{"retries":3}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `retries`") && e.contains("task 't'"),
            "{e}"
        );
        let e = TaskDef::from_json("t", r#"{"queue":"a b"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("queue name"), "{e}");
    }

    #[test]
    fn tags_filter_requires_all() {
        let d = TaskDef::from_json("t", r#"{"tags":["a","b"]}"#).unwrap();
        assert!(d.has_tags(&["a".into()]));
        assert!(d.has_tags(&["a".into(), "b".into()]));
        assert!(!d.has_tags(&["a".into(), "c".into()]));
        assert!(d.has_tags(&[]));
    }
}

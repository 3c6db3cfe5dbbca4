//! Reading options that arrive as JSON (from JS objects), with errors that name the
//! option and say what was expected. Numbers arrive as JSON numbers (f64 in JS), so
//! integer-ness and ranges are checked here rather than left to serde's messages.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{EngineError, Result};

/// Parses `json` into `T`, prefixing serde's message (unknown fields, wrong types)
/// with what was being read, e.g. "invalid options for task 'add': unknown field `retires`".
pub fn parse_json<T: for<'de> Deserialize<'de>>(json: &str, what: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // The option's path names the problem ("`worker`: invalid type…"); serde's own
        // " at line 1 column 42" is noise for a JS caller.
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg);
        let msg = msg.replace("expected f64", "expected a number");
        if path == "." || path.is_empty() {
            EngineError::invalid(format!("invalid {what}: {msg}"))
        } else {
            EngineError::invalid(format!("invalid {what}: `{path}`: {msg}"))
        }
    })
}

/// A non-negative whole number of milliseconds (or a count), within 2^53.
pub fn whole_number(name: &str, v: f64) -> Result<u64> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
        return Err(EngineError::invalid(format!(
            "`{name}` must be a non-negative whole number, got {}",
            show_number(v)
        )));
    }
    Ok(v as u64)
}

/// A whole number of at least 1.
pub fn positive_whole_number(name: &str, v: f64) -> Result<u64> {
    let n = whole_number(name, v).map_err(|_| {
        EngineError::invalid(format!(
            "`{name}` must be a whole number of at least 1, got {}",
            show_number(v)
        ))
    })?;
    if n == 0 {
        return Err(EngineError::invalid(format!(
            "`{name}` must be a whole number of at least 1, got 0"
        )));
    }
    Ok(n)
}

/// A priority: a whole number in the i32 range; larger runs first.
pub fn priority(name: &str, v: f64) -> Result<i32> {
    if !v.is_finite() || v.fract() != 0.0 || v < i32::MIN as f64 || v > i32::MAX as f64 {
        return Err(EngineError::invalid(format!(
            "`{name}` must be a whole number between {} and {}, got {}",
            i32::MIN,
            i32::MAX,
            show_number(v)
        )));
    }
    Ok(v as i32)
}

fn show_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        Value::from(v).to_string()
    }
}

/// Options of one `submit` / `submitMany` call.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubmitOptionsSpec {
    pub delay_ms: Option<f64>,
    /// Absolute time in ms since the epoch (the binding converts Date / ISO strings).
    pub run_at: Option<f64>,
    pub priority: Option<f64>,
    pub key: Option<String>,
    pub queue: Option<String>,
    /// A W3C traceparent: the parent of the run's span (the JS layer sets it to the
    /// span active at submit when tracing is on).
    #[serde(rename = "traceparent")]
    pub trace: Option<String>,
}

/// Validated submit options.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SubmitOptions {
    /// Earliest time to run, ms since the epoch; `None` = now.
    pub run_at_ms: Option<u64>,
    pub priority: Option<i32>,
    /// Idempotency key: a second submit with the same key returns the first task.
    pub key: Option<String>,
    /// The queue the caller expects the task in: it must be the definition's; it picks
    /// the queue only for a task no definition is known of yet (a producer on a durable
    /// store).
    pub queue: Option<String>,
    /// The W3C `traceparent` of the span active at submit: the run's span's parent.
    pub trace: Option<std::sync::Arc<str>>,
}

impl SubmitOptions {
    pub fn from_json(json: &str, now_ms: u64) -> Result<SubmitOptions> {
        if json.is_empty() {
            return Ok(SubmitOptions::default());
        }
        let spec: SubmitOptionsSpec = parse_json(json, "submit options")?;
        spec.validate(now_ms)
    }
}

/// The last instant a JS `Date` can hold (year 275760): a run time past it could not be
/// shown back to the caller.
pub const MAX_RUN_AT_MS: u64 = 8_640_000_000_000_000;

impl SubmitOptionsSpec {
    pub fn validate(self, now_ms: u64) -> Result<SubmitOptions> {
        if self.delay_ms.is_some() && self.run_at.is_some() {
            return Err(EngineError::invalid(
                "give either `delayMs` or `runAt`, not both",
            ));
        }
        let mut run_at_ms = None;
        if let Some(d) = self.delay_ms {
            let d = whole_number("delayMs", d)?;
            if d > 0 {
                run_at_ms = Some(now_ms + d);
            }
        }
        if let Some(at) = self.run_at {
            run_at_ms = Some(whole_number("runAt", at)?);
        }
        if let Some(at) = run_at_ms.filter(|at| *at > MAX_RUN_AT_MS) {
            return Err(EngineError::invalid(format!(
                "the task would run at {at} ms after 1970, past the last time a JS Date can hold ({MAX_RUN_AT_MS}): give a nearer `delayMs` or `runAt`"
            )));
        }
        let priority = self.priority.map(|p| priority("priority", p)).transpose()?;
        if let Some(k) = &self.key {
            if k.is_empty() {
                return Err(EngineError::invalid("`key` must be a non-empty string"));
            }
        }
        if let Some(q) = &self.queue {
            crate::registry::validate_name("queue", q)?;
        }
        if let Some(t) = &self.trace {
            let ok = t.len() == 55
                && t.bytes().enumerate().all(|(i, b)| match i {
                    2 | 35 | 52 => b == b'-',
                    _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
                });
            if !ok {
                return Err(EngineError::invalid(format!(
                    "`traceparent` must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>), got '{t}'"
                )));
            }
        }
        Ok(SubmitOptions {
            run_at_ms,
            priority,
            key: self.key,
            queue: self.queue,
            trace: self.trace.map(|t| t.as_str().into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked_with_named_errors() {
        assert_eq!(whole_number("delayMs", 5.0).unwrap(), 5);
        let e = whole_number("delayMs", -1.0).unwrap_err().to_string();
        assert!(e.contains("`delayMs`") && e.contains("-1"), "{e}");
        assert!(whole_number("delayMs", 1.5).is_err());
        assert!(whole_number("delayMs", f64::NAN)
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        assert!(positive_whole_number("concurrency", 0.0)
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
        assert!(priority("priority", 3e10).is_err());
        assert_eq!(priority("priority", -7.0).unwrap(), -7);
    }

    #[test]
    fn run_times_past_a_js_date_are_refused() {
        let e = SubmitOptions::from_json(r#"{"delayMs":9007199254740991}"#, 1_000).unwrap_err();
        assert!(e.to_string().contains("past the last time a JS Date can hold"), "{e}");
        assert!(SubmitOptions::from_json(r#"{"runAt":8640000000000001}"#, 1_000).is_err());
        assert!(SubmitOptions::from_json(r#"{"runAt":8640000000000000}"#, 1_000).is_ok());
    }

    #[test]
    fn submit_options_resolve_delays_against_now() {
        let o = SubmitOptions::from_json(r#"{"delayMs":250,"priority":3}"#, 1000).unwrap();
        assert_eq!(o.run_at_ms, Some(1250));
        assert_eq!(o.priority, Some(3));
        let o = SubmitOptions::from_json(r#"{"runAt":5000}"#, 1000).unwrap();
        assert_eq!(o.run_at_ms, Some(5000));
        assert_eq!(
            SubmitOptions::from_json("", 0).unwrap(),
            SubmitOptions::default()
        );
    }

    #[test]
    fn bad_submit_options_are_rejected() {
        let e = SubmitOptions::from_json(r#"{"delay":5}"#, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `delay`"), "{e}");
        assert!(SubmitOptions::from_json(r#"{"delayMs":-5}"#, 0).is_err());
        assert!(SubmitOptions::from_json(r#"{"delayMs":5,"runAt":9}"#, 0).is_err());
        assert!(SubmitOptions::from_json(r#"{"key":""}"#, 0).is_err());
    }
}

/// Retention of finished tasks (`keepResults`): at most `count` of them, none older than
/// `ageMs`. As a task option, the fields it sets override the executor's.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeepResultsSpec {
    pub count: Option<f64>,
    pub age_ms: Option<f64>,
}

impl KeepResultsSpec {
    /// These fields over `base` (count, max age); `what` names the option in errors.
    pub fn overlay(&self, base: (usize, Option<u64>), what: &str) -> Result<(usize, Option<u64>)> {
        let count = match self.count {
            Some(c) => whole_number(&format!("{what}.count"), c)? as usize,
            None => base.0,
        };
        let age = match self.age_ms {
            Some(a) => Some(whole_number(&format!("{what}.ageMs"), a)?),
            None => base.1,
        };
        Ok((count, age))
    }
}

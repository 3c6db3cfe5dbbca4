//! Cron schedules: parsing expressions (5 fields, or 6 with seconds first) in a time
//! zone with the `croner` crate, and deciding what a schedule whose tick came due does.
//!
//! Every executor that runs schedules looks at the stored ones; a due tick is submitted
//! as a task whose idempotency key names the schedule and the tick, so that however
//! many processes see the same tick, the store keeps one task for it.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// With `missed: 'skip'`, a tick this late (ms) counts as missed and does not run.
pub const MISSED_GRACE_MS: u64 = 2_000;

/// What a schedule does with ticks that passed while no executor ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Missed {
    /// Run once for all of them (the latest), then go on.
    RunOnce,
    /// Run none of them.
    Skip,
}

impl Missed {
    pub fn parse(text: &str) -> Result<Missed> {
        match text {
            "runOnce" => Ok(Missed::RunOnce),
            "skip" => Ok(Missed::Skip),
            other => Err(EngineError::invalid(format!(
                "`missed` must be 'runOnce' or 'skip', got '{other}'"
            ))),
        }
    }
}

/// A schedule as stored (its next tick is kept apart, see the stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDef {
    pub id: String,
    /// The task it submits.
    pub name: String,
    pub cron: String,
    /// IANA time zone name; UTC when absent.
    pub tz: Option<String>,
    /// The task's payload (JSON text).
    pub payload: String,
    pub missed: Missed,
    pub paused: bool,
    pub created_at: u64,
}

/// A parsed cron expression in its time zone.
#[derive(Debug, Clone)]
pub struct CronSpec {
    cron: croner::Cron,
    tz: Tz,
}

impl CronSpec {
    /// Parses `expr` (5 fields, or 6 with seconds first) in time zone `tz` (UTC if None).
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<CronSpec> {
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) && !expr.trim_start().starts_with('@') {
            return Err(EngineError::invalid(format!(
                "invalid cron expression '{expr}': expected 5 fields (minute hour day month weekday) or 6 (seconds first), got {fields}"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| EngineError::invalid(format!("invalid cron expression '{expr}': {e}")))?;
        let tz = match tz {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| {
                EngineError::invalid(format!(
                    "unknown time zone '{name}': use an IANA name such as 'Europe/Berlin' or 'UTC'"
                ))
            })?,
        };
        Ok(CronSpec { cron, tz })
    }

    /// `ms` as a time in the schedule's zone, cut to the second (ticks fall on whole
    /// seconds; croner would carry the fraction into its answer).
    fn at(&self, ms: u64) -> chrono::DateTime<Tz> {
        Utc.timestamp_millis_opt((ms - ms % 1000) as i64)
            .single()
            .unwrap_or_default()
            .with_timezone(&self.tz)
    }

    /// The first tick strictly after `ms`, if the expression ever ticks again.
    pub fn next_after(&self, ms: u64) -> Option<u64> {
        self.cron
            .find_next_occurrence(&self.at(ms), false)
            .ok()
            .map(|t| t.timestamp_millis() as u64)
    }

    /// The last tick at or before `ms`.
    pub fn latest_until(&self, ms: u64) -> Option<u64> {
        self.cron
            .find_previous_occurrence(&self.at(ms), true)
            .ok()
            .map(|t| t.timestamp_millis() as u64)
    }
}

/// What a schedule does now.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The tick to submit a task for, if any.
    pub fire: Option<u64>,
    /// Its next tick from now on (None: the expression never ticks again).
    pub next_at: Option<u64>,
}

/// Whether a schedule whose next tick is `next_at` runs now: None while that tick lies
/// ahead. Of several ticks that came due (the process was down, or busy), the latest
/// runs — once — or, with `Missed::Skip`, only if it is on time.
pub fn decide(cron: &CronSpec, missed: Missed, next_at: u64, now: u64) -> Option<Decision> {
    if next_at > now {
        return None;
    }
    let latest = cron.latest_until(now).unwrap_or(next_at).max(next_at);
    let fire = match missed {
        Missed::RunOnce => Some(latest),
        Missed::Skip => (now - latest <= MISSED_GRACE_MS).then_some(latest),
    };
    Some(Decision {
        fire,
        next_at: cron.next_after(now),
    })
}

/// The idempotency key of tick `tick` of schedule `id`.
pub fn tick_key(id: &str, tick: u64) -> String {
    format!("cron:{id}:{tick}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    // 2026-01-01T00:00:00Z
    const T0: u64 = 1_767_225_600_000;

    #[test]
    fn five_and_six_fields() {
        let every_min = CronSpec::parse("* * * * *", None).unwrap();
        assert_eq!(every_min.next_after(T0), Some(T0 + MIN));
        assert_eq!(every_min.next_after(T0 + 1), Some(T0 + MIN));
        let every_2s = CronSpec::parse("*/2 * * * * *", None).unwrap();
        assert_eq!(every_2s.next_after(T0), Some(T0 + 2_000));
        assert_eq!(every_2s.latest_until(T0 + 3_000), Some(T0 + 2_000));
    }

    #[test]
    fn time_zones_shift_the_ticks() {
        let nine_utc = CronSpec::parse("0 9 * * *", None).unwrap();
        let nine_berlin = CronSpec::parse("0 9 * * *", Some("Europe/Berlin")).unwrap();
        // Berlin is UTC+1 in January: 09:00 there is 08:00 UTC.
        assert_eq!(nine_utc.next_after(T0), Some(T0 + 9 * 60 * MIN));
        assert_eq!(nine_berlin.next_after(T0), Some(T0 + 8 * 60 * MIN));
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        let e = CronSpec::parse("* * *", None).unwrap_err().to_string();
        assert!(
            e.contains("invalid cron expression '* * *'") && e.contains("got 3"),
            "{e}"
        );
        let e = CronSpec::parse("61 * * * *", None).unwrap_err().to_string();
        assert!(e.starts_with("invalid cron expression '61 * * * *'"), "{e}");
        let e = CronSpec::parse("* * * * *", Some("Mars/Olympus"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("unknown time zone 'Mars/Olympus'"), "{e}");
        assert!(Missed::parse("all").is_err());
    }

    #[test]
    fn missed_ticks_run_once_or_are_skipped() {
        let cron = CronSpec::parse("* * * * *", None).unwrap();
        // Not due yet.
        assert_eq!(decide(&cron, Missed::RunOnce, T0 + MIN, T0 + 10), None);
        // On time: runs, whatever the policy.
        let d = decide(&cron, Missed::Skip, T0 + MIN, T0 + MIN + 15).unwrap();
        assert_eq!(
            d,
            Decision {
                fire: Some(T0 + MIN),
                next_at: Some(T0 + 2 * MIN)
            }
        );
        // Three hours down: the latest tick runs once...
        let now = T0 + 180 * MIN + 30_000;
        let d = decide(&cron, Missed::RunOnce, T0 + MIN, now).unwrap();
        assert_eq!(
            d,
            Decision {
                fire: Some(T0 + 180 * MIN),
                next_at: Some(T0 + 181 * MIN)
            }
        );
        // ...or none does.
        let d = decide(&cron, Missed::Skip, T0 + MIN, now).unwrap();
        assert_eq!(
            d,
            Decision {
                fire: None,
                next_at: Some(T0 + 181 * MIN)
            }
        );
    }
}

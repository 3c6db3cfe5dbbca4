//! The task: its id, its state machine and the error a failed attempt leaves behind.

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Task ids are UUID v7: time ordered, so sorting ids sorts by creation time.
pub type TaskId = uuid::Uuid;

pub fn new_task_id() -> TaskId {
    uuid::Uuid::now_v7()
}

pub fn parse_task_id(text: &str) -> Result<TaskId> {
    uuid::Uuid::try_parse(text)
        .map_err(|_| EngineError::invalid(format!("'{text}' is not a task id (expected a UUID)")))
}

/// The lifecycle of a task, Celery's names:
///
/// ```text
/// PENDING ──claim──▶ RECEIVED ──invoke──▶ STARTED ──▶ SUCCESS | FAILURE
///    │                  │                    │
///    │                  │                    └──▶ RETRY ──claim──▶ RECEIVED …
///    └──────────────────┴──── cancel ───────────▶ REVOKED (also from RETRY, STARTED)
/// ```
/// A RECEIVED or STARTED task may also return to PENDING when its worker lets it go
/// (an expired lease, a worker closing before it invoked the handler). A PENDING or
/// RETRY task goes straight to FAILURE when it is refused without running (an open
/// circuit breaker with `onOpen: 'fail'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    Pending,
    Received,
    Started,
    Success,
    Failure,
    Retry,
    Revoked,
}

impl TaskState {
    pub const ALL: [TaskState; 7] = [
        TaskState::Pending,
        TaskState::Received,
        TaskState::Started,
        TaskState::Success,
        TaskState::Failure,
        TaskState::Retry,
        TaskState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "PENDING",
            TaskState::Received => "RECEIVED",
            TaskState::Started => "STARTED",
            TaskState::Success => "SUCCESS",
            TaskState::Failure => "FAILURE",
            TaskState::Retry => "RETRY",
            TaskState::Revoked => "REVOKED",
        }
    }

    pub fn parse(text: &str) -> Result<TaskState> {
        TaskState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| EngineError::invalid(format!("unknown task state '{text}'")))
    }

    /// SUCCESS, FAILURE and REVOKED never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failure | TaskState::Revoked
        )
    }

    pub fn can_transition_to(self, next: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Pending, Received)
                | (Pending, Revoked)
                | (Pending, Failure)
                | (Received, Started)
                | (Received, Pending)
                | (Received, Revoked)
                | (Started, Success)
                | (Started, Failure)
                | (Started, Retry)
                | (Started, Revoked)
                | (Started, Pending)
                | (Retry, Received)
                | (Retry, Revoked)
                | (Retry, Failure)
        )
    }

    /// Checks a transition; the store calls this for every state change it makes.
    pub fn transition(self, next: TaskState, id: &TaskId) -> Result<TaskState> {
        if self.can_transition_to(next) {
            Ok(next)
        } else {
            Err(EngineError::IllegalTransition {
                id: id.to_string(),
                from: self.as_str(),
                to: next.as_str(),
            })
        }
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failed attempt left behind: the thrown error's type, message and stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub stack: Option<String>,
    /// The handler exceeded its `timeoutMs`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
    /// The handler asked not to be retried (a `NonRetryableError`).
    #[serde(
        default,
        rename = "nonRetryable",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub non_retryable: bool,
    /// The task's circuit breaker does not count this error (its `isFailure` said so).
    #[serde(
        default,
        rename = "ignoredByBreaker",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub ignored_by_breaker: bool,
}

impl TaskError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        TaskError {
            kind: kind.into(),
            message: message.into(),
            stack: None,
            timeout: false,
            non_retryable: false,
            ignored_by_breaker: false,
        }
    }
}

/// Most log lines kept per task; older lines are dropped first.
pub const MAX_LOGS_PER_TASK: usize = 1_000;

/// How a handler run ended, as reported by the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// JSON text of the returned value.
    Success(compact_str::CompactString),
    /// A success whose waiters the host settles itself, from the value it holds: no
    /// settled event follows when the task ends SUCCESS (one does if it ends otherwise,
    /// say REVOKED by a cancel that came while it ran). Memory store only.
    SuccessSettledByHost(compact_str::CompactString),
    Failure(TaskError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    #[test]
    fn final_states_never_change() {
        for from in [Success, Failure, Revoked] {
            for to in TaskState::ALL {
                assert!(
                    !from.can_transition_to(to),
                    "{from} -> {to} must be illegal"
                );
            }
        }
    }

    #[test]
    fn the_happy_path_and_retry_loop_are_legal() {
        let path = [
            Pending, Received, Started, Retry, Received, Started, Success,
        ];
        for pair in path.windows(2) {
            assert!(
                pair[0].can_transition_to(pair[1]),
                "{} -> {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn skipping_states_is_illegal() {
        let id = new_task_id();
        assert!(Pending.transition(Started, &id).is_err());
        assert!(Pending.transition(Success, &id).is_err());
        assert!(Retry.transition(Started, &id).is_err());
        assert!(Received.transition(Success, &id).is_err());
        let err = Pending.transition(Success, &id).unwrap_err();
        assert!(err.to_string().contains("PENDING -> SUCCESS"));
    }

    #[test]
    fn every_live_state_can_be_revoked() {
        for s in [Pending, Received, Started, Retry] {
            assert!(s.can_transition_to(Revoked));
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str()).unwrap(), s);
        }
        assert!(TaskState::parse("DONE").is_err());
    }

    #[test]
    fn ids_are_time_ordered_uuids() {
        let a = new_task_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_task_id();
        assert!(a < b);
        assert_eq!(parse_task_id(&a.to_string()).unwrap(), a);
        assert!(parse_task_id("nope")
            .unwrap_err()
            .to_string()
            .contains("'nope'"));
    }
}

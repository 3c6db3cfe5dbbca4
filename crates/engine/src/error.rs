//! Every error the engine reports. Messages name the offending input, because they
//! surface verbatim as the JS error of the call that caused them.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    /// A caller passed something malformed: a bad name, option, payload or id.
    #[error("{0}")]
    InvalidInput(String),
    /// A task name that is not registered.
    #[error("unknown task '{0}': register it first with ex.register('{0}', handler)")]
    UnknownTask(String),
    /// A second registration under the same name.
    #[error("task '{0}' is already registered")]
    DuplicateTask(String),
    /// An id that no task in this store has.
    #[error("no task with id '{0}'")]
    NotFound(String),
    /// A state change the state machine forbids (a bug if it ever reaches a user).
    #[error("illegal state transition {from} -> {to} for task {id}")]
    IllegalTransition {
        id: String,
        from: &'static str,
        to: &'static str,
    },
    /// The store failed or cannot be opened (names the file or server and why).
    #[error("{0}")]
    Store(String),
    /// An action that the task's state does not allow (retry a running task, remove a
    /// waiting one): the message names the task, its state and the rule.
    #[error("{0}")]
    State(String),
    /// A payload that its task's `params` schema refuses: each problem with its path.
    #[error("the payload of task '{task}' does not match its params: {}", describe_issues(.issues))]
    InvalidParams { task: String, issues: Vec<ParamIssue> },
    /// The executor was closed.
    #[error("the executor is closed")]
    Closed,
}

/// One reason a payload does not match its task's parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamIssue {
    /// A JSON pointer into the payload (`/` for the payload itself).
    pub path: String,
    pub message: String,
}

fn describe_issues(issues: &[ParamIssue]) -> String {
    let parts: Vec<String> = issues.iter().map(|i| format!("{}: {}", i.path, i.message)).collect();
    parts.join("; ")
}

impl EngineError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        EngineError::InvalidInput(msg.into())
    }

    /// A short stable code for the binding to map onto JS error classes.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidInput(_) => "ERR_TASKLOOM_INVALID",
            EngineError::UnknownTask(_) => "ERR_TASKLOOM_UNKNOWN_TASK",
            EngineError::DuplicateTask(_) => "ERR_TASKLOOM_DUPLICATE_TASK",
            EngineError::NotFound(_) => "ERR_TASKLOOM_NOT_FOUND",
            EngineError::IllegalTransition { .. } => "ERR_TASKLOOM_ILLEGAL_TRANSITION",
            EngineError::Store(_) => "ERR_TASKLOOM_STORE",
            EngineError::State(_) => "ERR_TASKLOOM_STATE",
            EngineError::InvalidParams { .. } => "ERR_TASKLOOM_PARAMS",
            EngineError::Closed => "ERR_TASKLOOM_CLOSED",
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

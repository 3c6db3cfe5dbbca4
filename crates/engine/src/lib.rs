//! taskloom's engine: queues, ordering, the task state machine, retry policy and the
//! in-memory store. Pure Rust with no Node types: the Node binding (the root crate)
//! translates JS values to and from what is defined here.

pub mod clock;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod options;
pub mod params;
pub mod policy;
pub mod registry;
pub mod schedule;
pub mod store;
pub mod task;
pub mod wire;
pub mod workflow;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{CancelOutcome, Completion, Engine, EngineConfig, Event};
pub use error::{EngineError, ParamIssue};
pub use options::SubmitOptions;
pub use registry::{Registry, TaskDef};
pub use task::{TaskError, TaskId, TaskState};

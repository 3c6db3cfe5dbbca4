//! Where tasks live. `memory` is the in-process store; durable stores (SQLite, Redis)
//! will implement the same operations with the same semantics.

pub mod memory;
pub mod sqlite;

pub use memory::{LogEntry, MemoryStore, Record};

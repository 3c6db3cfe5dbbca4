//! Where tasks live. `memory` is the in-process store; the durable stores (SQLite,
//! Redis) speak the [`protocol`] with the engine and keep the same semantics.

pub mod fault;
pub mod host;
pub mod memory;
pub mod open;
pub mod protocol;
pub mod redis;
pub mod sqlite;
pub mod writer;

pub use memory::{LogEntry, MemoryStore, Record};
pub use open::{open, StoreKind, StoreSettings};

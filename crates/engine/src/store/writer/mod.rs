//! What the durable stores' writer threads have in common. Each store's writer (SQLite:
//! one transaction per round; Redis: one pipeline per round) is only its round and its
//! connection; everything around the round lives here, once:
//!
//! - [`thread`]: the loop (wait, take in, recall, round, deliver) and the state every
//!   writer keeps; a store implements [`thread::Round`];
//! - [`intake`]: taking in what arrived since the last round, in one batch;
//! - [`batch`]: what a batch asks for, read once (claims, flushes, names, the
//!   "started is moot" rule…), so that a round only writes;
//! - [`chores`]: when the lease is renewed, maintenance runs, the outlook is worked out
//!   and listeners are looked at;
//! - [`claims`]: the standing (parked) claim request and how it is answered;
//! - [`outlook`]: the stale-mark handshake that tells the host whether work is left;
//! - [`failure`]: what happens to an op whose round failed: kept for the next round, or
//!   answered so that its caller knows.

pub mod batch;
pub mod chores;
pub mod claims;
pub mod thread;
pub mod failure;
pub mod intake;
pub mod outlook;

//! Policies that decide what happens around a handler call: retries and their backoff.
//! (Rate limits, circuit breakers and timeouts join here.)

pub mod retry;

pub use retry::{Backoff, RetryPolicy, RetrySpec};

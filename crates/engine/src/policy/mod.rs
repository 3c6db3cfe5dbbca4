//! Policies that decide what happens around a handler call: retries and their backoff,
//! rate limits (governor) and circuit breakers (failsafe's failure policies).

pub mod breaker;
pub mod rate;
pub mod retry;

pub use breaker::{Breaker, BreakerConfig, BreakerSpec, BreakerState, Permit};
pub use rate::{Limiter, Rate, RateLimitSpec};
pub use retry::{Backoff, RetryPolicy, RetrySpec};

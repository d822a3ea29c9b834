//! The canary's pure core: what the promotion function decides ([`decision`]), how the recorded
//! state changes ([`machine`]) and what is recorded ([`recorded`]). Functions of (plan, state,
//! weights, metrics, clock), with no I/O and no AWS SDK: the controller's adapters read, call them
//! and write; the simulation and the replay (crate `simulation`) call the same code offline.

// This code runs inside the Lambdas, where a panic aborts the invocation: errors are returned.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod decision;
pub mod history;
pub mod machine;
pub mod recorded;

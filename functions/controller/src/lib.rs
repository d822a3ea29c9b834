//! Canary controller shared library: thin AWS adapters around the pure core (crate `canary`,
//! re-exported as [`decision`] and [`machine`]): [`listener`], [`metrics`], [`state`],
//! [`records`], [`fleet`], [`notify`], [`schedule`]; the release lifecycle ([`lifecycle`]) and the
//! two handlers ([`promotion::handle_promotion`], [`rollback::handle_alarm`]) the `promote` and
//! `rollback` Lambdas call. Handlers take their clients and configuration as parameters, so tests call them
//! in-process against the emulator.

// This code runs inside the Lambdas, where a panic aborts the invocation: errors are returned.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod aws_error;
pub mod clients;
pub mod config;
pub mod error;
pub mod events;
pub mod fleet;
pub mod lambda;
pub mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod promotion;
pub mod records;
pub mod report;
pub mod rollback;
pub mod schedule;
pub mod state;

// The pure core, under the paths the adapters and canaryctl have always used.
pub use canary::{decision, history, machine};
pub use clients::Clients;
pub use config::Config;
pub use error::Error;
pub use outcome::Outcome;
pub use promotion::handle_promotion;
pub use rollback::handle_alarm;

/// Wall-clock time in epoch seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

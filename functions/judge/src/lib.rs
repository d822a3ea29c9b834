//! The canary judge: is V2 healthy next to V1? Pure functions of the per-minute series since the
//! canary started, no I/O and no clock, so a decision can be replayed from CloudWatch's data.
//!
//! - [`evidence`]: the anytime-valid e-values (relative and absolute error tests, one-sample
//!   slow-share test, the confidence bound on V1's rate used at 100 %).
//! - [`assess`]: the plan's rules applied to a [`Window`]: an [`Assessment`] with every statistic
//!   and its threshold, and the [`Verdict`].
//! - [`sample`]: seeded samplers for the benchmark's simulated traffic.

pub mod assess;
pub mod evidence;
pub mod sample;
pub mod series;
mod special;

pub use assess::{
    Assessment, ErrorEvidence, FinalStepEvidence, LatencyEvidence, Verdict, Window, assess,
    latency_threshold_ms,
};
pub use series::{Counts, Minute, closed_minutes, minute_start};

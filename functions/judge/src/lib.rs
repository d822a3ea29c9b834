//! The canary judge: is the canary healthy next to the stable version? Pure functions of the per-period series since the
//! canary started (the plan's `health.period_seconds`, a minute by default), no I/O and no clock,
//! so a decision can be replayed from CloudWatch's data.
//!
//! - [`evidence`]: the anytime-valid e-values (relative and absolute error tests, one-sample
//!   slow-share test, the confidence bound on the stable version's rate used at 100 %).
//! - [`assess`]: the plan's rules applied to a [`Window`]: an [`Assessment`] with every statistic
//!   and its threshold, and the [`Verdict`].
//!
//! # The period, and what the guarantees assume of it
//!
//! One entry of the series is one closed period of `health.period_seconds` (60 by default: ALB
//! publishes per minute; 10, 20 or 30 only on high-resolution metrics such as the lab's bridge).
//! The period is the unit of observation, not part of any hypothesis, so the guarantees hold at
//! every period:
//!
//! - **Errors, relative test.** Each period contributes the conditional binomial of the canary's share of
//!   that period's errors given both versions' request counts. Its likelihood depends on the
//!   period only through `n1_b : n2_b`, so while the weights hold still, splitting a period into
//!   shorter ones leaves `ℓ(r)` — and `e_rel` — unchanged whatever way the errors fall between
//!   them (a property test checks it); where the weights or a shared outage change inside a
//!   period, shorter periods follow them more closely. The product over periods is a
//!   supermartingale under an acceptable canary either way, and Ville's bound does not count looks,
//!   so deciding every 10 s instead of every minute costs no false rollbacks (the seeded Monte
//!   Carlo in the controller checks A/A at 10 s periods too).
//! - **Errors, absolute and 100 % tests; latency with a percentile statistic.** They pool counts
//!   (errors, requests, slow requests from `PR(:T)`) over the periods: the period does not enter.
//! - **Latency, relative test**: the canary's share of a period's slow requests, as the errors' relative
//!   test (same argument at every period).
//! - **T** is fixed before the periods it judges: the stable version's statistic over `baseline_seconds` before
//!   the minute the canary started in, else over the first calibration span with enough stable
//!   requests (applied from its end; earlier periods are counted at the ceiling), else the
//!   ceiling (`docs/judge.md`, "Why it stays valid").
//! - **`min_step_requests`** counts the canary's requests in the step, not per period. The bake counts settled
//!   time since the step began; the judged data ends at the last closed period ([`closed_until`]),
//!   so up to one period of a bake may still be unjudged when it ends — one reason to keep the
//!   period short next to the bake (the plan's check keeps `max_step_seconds` above
//!   `bake + settle + period`). Rollback evidence is never waited for: it is judged every run.
//! - **Latency with `Average`** (no guarantee at any period): a period
//!   whose canary Average exceeds T counts all its requests as slow, so the count depends on how many
//!   requests a period holds; with one request per period it is the exact slow count. Shorter
//!   periods average fewer requests and so flag a heavy tail more often: use a percentile.

// This code runs inside the Lambdas, where a panic aborts the invocation: errors are returned.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod assess;
pub mod evidence;
pub mod series;
pub mod special;

pub use assess::{
    Assessment, Calibration, ErrorEvidence, FinalStepEvidence, LatencyEvidence, LatencyJudgement,
    LatencyThreshold, ThresholdSource, Verdict, Window, assess, assess_with_verdict, judgement,
    latency_threshold, latency_threshold_ms,
};
pub use series::{Counts, Period, closed_periods, closed_until, period_of, period_start};

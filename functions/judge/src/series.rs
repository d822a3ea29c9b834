//! The per-minute series the judge reads: one closed CloudWatch minute of both target groups.

use serde::{Deserialize, Serialize};

/// ALB publishes per-minute datapoints; a minute is `[t, t + 60)`.
pub const MINUTE: i64 = 60;

/// One target group's numbers for one minute.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Sum of `RequestCount`; a minute without a datapoint had no requests.
    #[serde(default)]
    pub requests: u64,
    /// Sum of `HTTPCode_Target_5XX_Count`.
    #[serde(default)]
    pub errors: u64,
    /// Sum of `TargetConnectionErrorCount`.
    #[serde(default)]
    pub connection_errors: u64,
    /// Requests slower than the latency threshold T (from the percentile rank `PR(:T)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<u64>,
    /// `TargetResponseTime` with the plan's statistic, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

impl Counts {
    /// Failed requests: target 5XX and connections the load balancer could not open.
    pub fn failures(&self) -> u64 {
        self.errors.saturating_add(self.connection_errors)
    }

    /// Trials for the failure rate: never fewer than the failures, whether or not the load
    /// balancer counted a failed connection as a request.
    pub fn trials(&self) -> u64 {
        self.requests.max(self.failures())
    }
}

/// One minute of both versions, starting at `t` (epoch seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Minute {
    pub t: i64,
    #[serde(default)]
    pub v1: Counts,
    #[serde(default)]
    pub v2: Counts,
}

/// The start of the minute holding `t`.
pub fn minute_start(t: i64) -> i64 {
    t.div_euclid(MINUTE) * MINUTE
}

/// The minutes a decision at `now` may judge: those overlapping the canary (ending after
/// `canary_started_at`) that ended at least `settle_seconds` before `now`. Sorted by time.
pub fn closed_minutes(
    minutes: &[Minute],
    canary_started_at: i64,
    now: i64,
    settle_seconds: u64,
) -> Vec<Minute> {
    let settle = i64::try_from(settle_seconds).unwrap_or(i64::MAX);
    let mut out: Vec<Minute> = minutes
        .iter()
        .filter(|m| m.t + MINUTE > canary_started_at && m.t + MINUTE <= now.saturating_sub(settle))
        .copied()
        .collect();
    out.sort_by_key(|m| m.t);
    out
}

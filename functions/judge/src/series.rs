//! The series the judge reads: one closed CloudWatch period of both target groups per entry.
//! The period is the plan's `health.period_seconds` (ALB publishes per minute: 60 in
//! production, 10 s for the targets' signal, up to a day); an entry starting at `t` covers
//! `[t, t + period)`.

use serde::{Deserialize, Serialize};

/// One target group's numbers for one period.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Sum of `RequestCount`; a period without a datapoint had no requests.
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

/// One period of both versions, starting at `t` (epoch seconds, a multiple of the period).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub t: i64,
    #[serde(default)]
    #[serde(alias = "v1")]
    pub stable: Counts,
    #[serde(default)]
    #[serde(alias = "v2")]
    pub canary: Counts,
}

/// The start of the period of `period` seconds holding `t`.
pub fn period_start(t: i64, period: i64) -> i64 {
    t.div_euclid(period) * period
}

/// The plan's period in seconds, as the judge's arithmetic uses it.
pub fn period_of(period_seconds: u64) -> i64 {
    i64::try_from(period_seconds).unwrap_or(i64::MAX).max(1)
}

/// The end of the last period closed at `now`: periods ending at least `settle_seconds` before
/// `now` are final (CloudWatch publishes late).
pub fn closed_until(now: i64, settle_seconds: u64, period: i64) -> i64 {
    let settle = i64::try_from(settle_seconds).unwrap_or(i64::MAX);
    period_start(now.saturating_sub(settle), period)
}

/// The periods a decision at `now` may judge: those overlapping the canary (ending after
/// `canary_started_at`) that ended at least `settle_seconds` before `now`. Sorted by time.
pub fn closed_periods(
    periods: &[Period],
    canary_started_at: i64,
    now: i64,
    settle_seconds: u64,
    period: i64,
) -> Vec<Period> {
    let until = closed_until(now, settle_seconds, period);
    let mut out: Vec<Period> = periods
        .iter()
        .filter(|m| m.t + period > canary_started_at && m.t + period <= until)
        .copied()
        .collect();
    out.sort_by_key(|m| m.t);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: i64) -> Period {
        Period {
            t,
            ..Period::default()
        }
    }

    #[test]
    fn closed_periods_follow_the_period() {
        let series: Vec<Period> = (0..12).map(|k| at(1_000_020 + 10 * k)).collect();
        // At 10 s: canary from 1_000_025, now 1_000_081, settle 0 → [1_000_020, 1_000_080).
        let got = closed_periods(&series, 1_000_025, 1_000_081, 0, 10);
        let ts: Vec<i64> = got.iter().map(|m| m.t).collect();
        assert_eq!(
            ts,
            [
                1_000_020, 1_000_030, 1_000_040, 1_000_050, 1_000_060, 1_000_070
            ]
        );
        assert_eq!(closed_until(1_000_081, 0, 10), 1_000_080);
        // Settling 15 s leaves the periods ended by 1_000_066.
        assert_eq!(
            closed_periods(&series, 1_000_025, 1_000_081, 15, 10).len(),
            4
        );
        // The same clock at 60 s: the minute [1_000_020, 1_000_080) has not closed by 1_000_079.
        assert_eq!(closed_until(1_000_079, 0, 60), 1_000_020);
        assert_eq!(period_start(-1, 60), -60);
        assert_eq!(period_of(0), 1);
    }
}

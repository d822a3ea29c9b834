//! The canaries published tests are compared on (`cargo xtask bench-peers`): each canary's
//! periods under a fixed schedule, the same for every test, and the closed period at which our
//! judge would first have rolled back.
//!
//! In [`super::run_canary`] the listener follows our own decisions, so its data could not be
//! shown to another test unchanged. Here every step lasts the time our controller needs at the
//! least to promote a healthy step (its bake, plus the settle delay, in whole periods), whatever
//! anyone decides; a rollback ends nothing. Every test then reads the same periods, closed as our
//! controller sees them (`settle_seconds` late), and the first period it would have rolled back
//! on is comparable across tests. Error cells only: the peers test error rates.

use serde::Serialize;

use super::{STABLE_LATENCY, Sampler, Scenario, split};
use canary::decision::{CanaryState, Decision, Observation, Period, Status, Weights};
use contract::Plan;

/// The canary's clock starts here; our judge's decisions are taken at each period's start.
const START: i64 = 1_700_000_040;

/// One canary's periods and our judge's verdict on them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stream {
    /// Per period: the canary's percent, the stable version's requests and errors, the canary's requests and errors.
    pub periods: Vec<[u64; 5]>,
    /// How many of `periods` had closed by the last decision (the rest are never judged).
    pub judged: usize,
    /// Closed periods our judge had read when it first decided to roll back.
    pub ours: Option<usize>,
}

/// Seconds each step lasts: the bake plus the settle delay, rounded up to whole periods.
pub fn step_seconds(plan: &Plan) -> i64 {
    let period = i64::try_from(plan.health.period_seconds.max(1)).unwrap_or(60);
    let raw = i64::try_from(plan.bake_seconds + plan.health.settle_seconds).unwrap_or(i64::MAX);
    raw.div_euclid(period) * period + if raw % period == 0 { 0 } else { period }
}

/// One canary of `scenario` under the fixed schedule of `plan`, seeded.
pub fn stream(plan: &Plan, scenario: &Scenario, seed: u64) -> Stream {
    let mut sampler = Sampler::new(seed);
    let period = i64::try_from(plan.health.period_seconds.max(1)).unwrap_or(60);
    let step_len = step_seconds(plan);
    let total = step_len * i64::try_from(plan.steps.len()).unwrap_or(0);
    let quantile = 0.99;
    // Latency plays no part here (identical versions); a baseline keeps T fixed and finite.
    let hour = sampler.poisson(3600.0 * scenario.rps);
    let baseline_ms = STABLE_LATENCY.sample_percentile(&mut sampler, quantile, hour.max(1));
    let mut observed = Observation {
        periods: Vec::new(),
        baseline_ms,
        calibration: None,
        canary_healthy_targets: 1,
    };
    let mut out = Stream {
        periods: Vec::new(),
        judged: 0,
        ours: None,
    };
    let mut now = START;
    loop {
        let step = usize::try_from((now - START) / step_len)
            .unwrap_or(usize::MAX)
            .min(plan.steps.len() - 1);
        let live = Weights::for_percent(plan.steps[step]);
        let state = CanaryState {
            status: Status::Running,
            step,
            step_started_at: START + step_len * i64::try_from(step).unwrap_or(0),
            bake_started_at: START + step_len * i64::try_from(step).unwrap_or(0),
            bake_skipped: false,
            canary_started_at: START,
            version: 0,
            reason: None,
        };
        let judged =
            canary::decision::decide_with_statistics(plan, Some(&state), live, &observed, now);
        let closed = judged.statistics.as_ref().map_or(0, |s| s.closed_periods);
        out.judged = closed;
        if out.ours.is_none() && matches!(judged.decision, Decision::RollBack { .. }) {
            out.ours = Some(closed);
        }
        if now >= START + total {
            return out;
        }
        let share = live.canary_percent() / 100.0;
        let lambda = scenario.rps * f64::from(u32::try_from(period).unwrap_or(60));
        let threshold = baseline_ms.map_or(plan.health.latency.ceiling_ms, |b| {
            (b * plan.health.latency.ratio).max(b + plan.health.latency.margin_ms)
        });
        let q = STABLE_LATENCY.tail(threshold);
        let stable = split(
            &mut sampler,
            lambda * (1.0 - share),
            scenario.stable_error_rate,
            q,
        );
        let canary = split(&mut sampler, lambda * share, scenario.canary_error_rate, q);
        out.periods.push([
            u64::from(plan.steps[step]),
            stable.requests,
            stable.errors,
            canary.requests,
            canary.errors,
        ]);
        observed.periods.push(Period {
            t: now,
            stable,
            canary,
        });
        now += period;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(canary_error_rate: f64) -> Scenario {
        Scenario {
            rps: 100.0,
            stable_error_rate: 0.001,
            canary_error_rate,
            canary_extra_ms: 0.0,
            stable_extra_ms: 0.0,
            baseline: true,
        }
    }

    #[test]
    fn the_schedule_is_fixed_and_whole_periods() {
        let plan = Plan::default();
        assert_eq!(step_seconds(&plan), 720);
        let s = stream(&plan, &cell(1.0), 7);
        // 4 steps of 12 periods, each at its step's weight, whatever was decided.
        assert_eq!(s.periods.len(), 48);
        let percents: Vec<u64> = s.periods.iter().map(|p| p[0]).collect();
        assert_eq!(&percents[..12], &[10; 12]);
        assert_eq!(&percents[36..], &[100; 12]);
        // Stable serves nothing at 100 %.
        assert!(s.periods[36..].iter().all(|p| p[1] == 0));
        // Every canary request failing: rolled back on the first closed period; the last two periods
        // (settle_seconds 120) were never judged.
        assert_eq!(s.ours, Some(1));
        assert_eq!(s.judged, 46);
    }

    #[test]
    fn identical_versions_are_not_rolled_back_and_the_seed_repeats() {
        let plan = Plan::default();
        let a = stream(&plan, &cell(0.001), 11);
        assert_eq!(a.ours, None);
        assert_eq!(a, stream(&plan, &cell(0.001), 11));
        assert_ne!(a.periods, stream(&plan, &cell(0.001), 12).periods);
    }
}

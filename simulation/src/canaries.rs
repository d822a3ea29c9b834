//! Whole canaries simulated through the real decision code ([`canary::decision`] and the `judge`
//! crate): Poisson traffic split by the listener's weights, one decision per metrics period (the
//! plan's `health.period_seconds`, a minute by default), only the periods CloudWatch has closed
//! (`settle_seconds`). `cargo xtask bench-judge` runs the grid;
//! a small seeded run is a test. Pure and seeded: the same seed gives the same numbers.

use crate::rule::Rule;
use crate::sample::{LatencyModel, Sampler};
use canary::decision::{
    Calibration, CanaryState, Counts, Decision, Observation, Period, Status, Weights, decide_by,
};
use contract::Plan;
use serde::Serialize;

/// The stable version's latency: 10 ms plus a Lomax tail (scale 15 ms, shape 3): p99 ≈ 64.6 ms.
pub const STABLE_LATENCY: LatencyModel = LatencyModel {
    base_ms: 10.0,
    scale_ms: 15.0,
    shape: 3.0,
    shift_ms: 0.0,
};

/// A cell of the grid: traffic, both versions' error rates, the canary's extra latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scenario {
    /// Total requests per second over both versions.
    pub rps: f64,
    pub stable_error_rate: f64,
    pub canary_error_rate: f64,
    /// Added to every canary request's latency.
    pub canary_extra_ms: f64,
    /// Added to every stable request's latency during the canary (a slowdown both versions share,
    /// such as a slow dependency, when the canary's extra equals it); the baseline before is unaffected.
    pub stable_extra_ms: f64,
    /// Stable served in the hour before the canary: T from its baseline; otherwise from the stable version's first
    /// calibration span in the canary.
    pub baseline: bool,
}

/// How one simulated canary ended.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct CanaryRun {
    pub rolled_back: bool,
    pub reached_final_step: bool,
    pub completed: bool,
    pub paused: bool,
    /// Seconds from the canary's start to its last decision.
    pub seconds: u32,
    /// Seconds of closed periods the rollback was decided on (0 without rollback).
    pub closed_seconds_at_rollback: u32,
    /// Canary errors its users saw before the canary ended.
    pub canary_errors_served: u64,
}

/// The canary's clock starts here (a whole minute); the baseline is the hour before.
const START: i64 = 1_700_000_040;
/// A canary that neither ends nor pauses stops here (it cannot: `max_step_seconds` pauses it).
const MAX_SECONDS: u32 = 24 * 3600;

/// One canary under `plan`, judged by `rule`, in `scenario`.
pub fn run_canary(plan: &Plan, rule: Rule, scenario: &Scenario, seed: u64) -> CanaryRun {
    let mut sampler = Sampler::new(seed);
    let latency = &plan.health.latency;
    let quantile = latency
        .statistic
        .trim_start_matches(['p', 'P'])
        .parse::<f64>()
        .map_or(0.99, |p| p / 100.0);
    let stable_latency = LatencyModel {
        shift_ms: scenario.stable_extra_ms,
        ..STABLE_LATENCY
    };
    let canary_latency = LatencyModel {
        shift_ms: scenario.canary_extra_ms,
        ..STABLE_LATENCY
    };
    let hour = sampler.poisson(3600.0 * scenario.rps);
    let baseline_ms = STABLE_LATENCY.sample_percentile(&mut sampler, quantile, hour);
    let baseline_ms =
        baseline_ms.filter(|_| scenario.baseline && hour >= latency.reference_requests);
    let per_period_percentiles = rule.reads_period_statistics();
    // Without a baseline, the stable version's statistic over the shortest of 1, 2, 4 ... calibration spans with
    // `reference_requests` stable requests (as `metrics::read_calibration` reads it): known once the
    // span's data exists, seen by the controller once it has closed.
    let span = i64::try_from(plan.health.calibration_span_seconds()).unwrap_or(i64::MAX);
    let span_start = judge::period_start(START, span);
    let mut calibration: Option<Calibration> = None;
    let mut candidate = span;
    let mut calibration_stable_requests = 0;

    let mut observed = Observation {
        periods: Vec::new(),
        baseline_ms,
        calibration: None,
        canary_healthy_targets: 1,
    };
    let mut run = CanaryRun::default();
    let mut state: Option<CanaryState> = None;
    let mut live = Weights::STABLE_ONLY;
    let period = u32::try_from(plan.health.period_seconds)
        .unwrap_or(u32::MAX)
        .max(1);
    for k in 0..=MAX_SECONDS / period {
        let now = START + i64::from(period * k);
        let closed = judge::closed_until(now, plan.health.settle_seconds, i64::from(period));
        observed.calibration = calibration.filter(|c| c.until <= closed);
        let judged = decide_by(rule.assess(), plan, state.as_ref(), live, &observed, now);
        run.seconds = period * k;
        match judged.decision {
            Decision::Promote { step, weights } => {
                state = Some(CanaryState {
                    status: Status::Running,
                    step,
                    step_started_at: now,
                    bake_started_at: now,
                    bake_skipped: false,
                    canary_started_at: state.as_ref().map_or(now, |s| s.canary_started_at),
                    version: 0,
                    reason: None,
                });
                live = weights;
                run.reached_final_step |= step + 1 == plan.steps.len();
            }
            Decision::Hold { .. } => {}
            Decision::RollBack { .. } => {
                run.rolled_back = true;
                run.closed_seconds_at_rollback = judged.statistics.map_or(0, |s| {
                    u32::try_from(s.closed_periods)
                        .unwrap_or(u32::MAX)
                        .saturating_mul(period)
                });
                return run;
            }
            Decision::Complete => {
                run.completed = true;
                return run;
            }
            Decision::Pause { .. } | Decision::Drift { .. } => {
                run.paused = true;
                return run;
            }
        }
        if state.is_none() {
            continue;
        }
        // The period that starts now, under the weights just decided.
        let share = live.canary_percent() / 100.0;
        let lambda = f64::from(period) * scenario.rps;
        let (l1, l2) = (lambda * (1.0 - share), lambda * share);
        let threshold =
            judge::latency_threshold(latency, baseline_ms, calibration).at(now, latency.ceiling_ms);
        let mut stable = split(
            &mut sampler,
            l1,
            scenario.stable_error_rate,
            stable_latency.tail(threshold),
        );
        let mut canary = split(
            &mut sampler,
            l2,
            scenario.canary_error_rate,
            canary_latency.tail(threshold),
        );
        if per_period_percentiles {
            stable.latency_ms =
                stable_latency.sample_percentile(&mut sampler, quantile, stable.requests);
            canary.latency_ms =
                canary_latency.sample_percentile(&mut sampler, quantile, canary.requests);
        }
        calibration_stable_requests += stable.requests;
        let end = now + i64::from(period);
        if calibration.is_none() && baseline_ms.is_none() && end == span_start + candidate {
            if calibration_stable_requests >= latency.reference_requests {
                calibration = stable_latency
                    .sample_percentile(&mut sampler, quantile, calibration_stable_requests)
                    .map(|stable_ms| Calibration {
                        stable_ms,
                        until: end,
                    });
            }
            candidate = candidate.saturating_mul(2);
        }
        run.canary_errors_served += canary.errors;
        observed.periods.push(Period {
            t: now,
            stable,
            canary,
        });
    }
    run.paused = true;
    run
}

/// One version's period: Poisson requests at mean `lambda`, each failing with probability `p`
/// and slower than T with probability `q`, independently.
fn split(sampler: &mut Sampler, lambda: f64, p: f64, q: f64) -> Counts {
    let failed_slow = sampler.poisson(lambda * p * q);
    let failed_fast = sampler.poisson(lambda * p * (1.0 - q));
    let ok_slow = sampler.poisson(lambda * (1.0 - p) * q);
    let ok_fast = sampler.poisson(lambda * (1.0 - p) * (1.0 - q));
    Counts {
        requests: failed_slow + failed_fast + ok_slow + ok_fast,
        errors: failed_slow + failed_fast,
        slow: Some(failed_slow + ok_slow),
        ..Counts::default()
    }
}

/// A cell's summary over many canaries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellSummary {
    pub canaries: usize,
    pub rolled_back: f64,
    pub reached_final_step: f64,
    pub completed: f64,
    pub paused: f64,
    pub median_minutes_to_rollback: Option<f64>,
    pub median_closed_minutes_to_rollback: Option<f64>,
    pub mean_canary_errors_served: f64,
}

fn median(mut values: Vec<u32>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 {
        f64::from(values[n / 2])
    } else {
        0.5 * (f64::from(values[n / 2 - 1]) + f64::from(values[n / 2]))
    })
}

/// A seed per (run seed, cell, canary): splitmix64 of their mix.
pub fn seed_for(seed: u64, cell: u64, canary: u64) -> u64 {
    let mut z = seed
        .wrapping_add(cell.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(canary.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `canaries` canaries of one cell; the same seeds for every plan, so methods compare paired.
pub fn run_cell(
    plan: &Plan,
    rule: Rule,
    scenario: &Scenario,
    canaries: usize,
    seed: u64,
    cell: u64,
) -> CellSummary {
    let runs: Vec<CanaryRun> = (0..canaries)
        .map(|i| run_canary(plan, rule, scenario, seed_for(seed, cell, i as u64)))
        .collect();
    let share = |f: fn(&CanaryRun) -> bool| {
        runs.iter().filter(|r| f(r)).count() as f64 / canaries.max(1) as f64
    };
    let rolled: Vec<&CanaryRun> = runs.iter().filter(|r| r.rolled_back).collect();
    CellSummary {
        canaries,
        rolled_back: share(|r| r.rolled_back),
        reached_final_step: share(|r| r.reached_final_step),
        completed: share(|r| r.completed),
        paused: share(|r| r.paused),
        median_minutes_to_rollback: median(rolled.iter().map(|r| r.seconds).collect())
            .map(|s| s / 60.0),
        median_closed_minutes_to_rollback: median(
            rolled
                .iter()
                .map(|r| r.closed_seconds_at_rollback)
                .collect(),
        )
        .map(|s| s / 60.0),
        mean_canary_errors_served: runs
            .iter()
            .map(|r| r.canary_errors_served as f64)
            .sum::<f64>()
            / canaries.max(1) as f64,
    }
}

/// The benchmark's grid: (family, label, scenario).
pub fn grid() -> Vec<(&'static str, String, Scenario)> {
    let mut cells = Vec::new();
    let rates = [1.0, 10.0, 100.0];
    let base = |rps| Scenario {
        rps,
        stable_error_rate: 0.001,
        canary_error_rate: 0.001,
        canary_extra_ms: 0.0,
        stable_extra_ms: 0.0,
        baseline: true,
    };
    for (label, p2) in [
        ("0.1 %", 0.001),
        ("0.5 % (5 × stable)", 0.005),
        ("1 % (10 × stable)", 0.01),
        ("2 %", 0.02),
        ("5 %", 0.05),
        ("10 %", 0.1),
        ("every request fails", 1.0),
    ] {
        for rps in rates {
            cells.push((
                "errors (stable 0.1 %)",
                format!("canary {label}"),
                Scenario {
                    canary_error_rate: p2,
                    ..base(rps)
                },
            ));
        }
    }
    for rps in rates {
        cells.push((
            "A/A",
            "both 2 %".to_string(),
            Scenario {
                stable_error_rate: 0.02,
                canary_error_rate: 0.02,
                ..base(rps)
            },
        ));
    }
    for baseline in [true, false] {
        let family = if baseline {
            "latency (the stable version's baseline)"
        } else {
            "latency (no baseline: calibrated in the canary)"
        };
        for (label, canary_extra, stable_extra) in [
            ("identical", 0.0, 0.0),
            ("+50 ms", 50.0, 0.0),
            ("+100 ms", 100.0, 0.0),
            ("+150 ms", 150.0, 0.0),
            ("+300 ms", 300.0, 0.0),
            ("both +300 ms (shared slowdown)", 300.0, 300.0),
        ] {
            for rps in rates {
                cells.push((
                    family,
                    format!("canary {label}"),
                    Scenario {
                        canary_extra_ms: canary_extra,
                        stable_extra_ms: stable_extra,
                        baseline,
                        ..base(rps)
                    },
                ));
            }
        }
    }
    // Appended, so the cells above keep their seeds: canary around the tolerance (`max_ratio` 1.5 ×
    // stable), where what it accepts and how long a worse canary serves are traded.
    for (label, ratio) in [("1.2", 1.2), ("1.5", 1.5), ("2", 2.0), ("3", 3.0)] {
        for rps in rates {
            cells.push((
                "errors near the tolerance (stable 0.1 %)",
                format!("canary {label} × stable"),
                Scenario {
                    canary_error_rate: 0.001 * ratio,
                    ..base(rps)
                },
            ));
        }
    }
    for rps in rates {
        cells.push((
            "A/A",
            "both 6 % (an outage both versions share)".to_string(),
            Scenario {
                stable_error_rate: 0.06,
                canary_error_rate: 0.06,
                ..base(rps)
            },
        ));
    }
    cells
}

pub mod peers;

#[cfg(test)]
mod tests;

//! A small seeded Monte Carlo through the real decision code: the sequential judge's false
//! rollbacks stay within 2α on identical versions, and it catches the failures it must.
//! (The full grid with more canaries is `cargo xtask bench-judge`.)

use super::*;

const SEED: u64 = 20_261_125;

fn cell(rps: f64, stable: f64, canary: f64, extra: f64) -> Scenario {
    Scenario {
        rps,
        stable_error_rate: stable,
        canary_error_rate: canary,
        canary_extra_ms: extra,
        stable_extra_ms: 0.0,
        baseline: true,
    }
}

/// Stable served nothing in the hour before: T is calibrated on the stable version's first span in the canary.
fn without_baseline(scenario: Scenario) -> Scenario {
    Scenario {
        baseline: false,
        ..scenario
    }
}

#[test]
fn identical_versions_are_rarely_rolled_back() {
    let plan = Plan::default();
    let alpha = plan.health.errors.alpha;
    for (i, scenario) in [cell(10.0, 0.001, 0.001, 0.0), cell(10.0, 0.02, 0.02, 0.0)]
        .iter()
        .enumerate()
    {
        let summary = run_cell(&plan, Rule::Sequential, scenario, 150, SEED, i as u64);
        assert!(
            summary.rolled_back <= 2.0 * alpha,
            "{scenario:?}: {summary:?}"
        );
        assert!(summary.completed >= 0.95, "{scenario:?}: {summary:?}");
    }
}

/// The default plan judged on 10 s periods (high-resolution metrics; steps × max_step_seconds
/// within CloudWatch's 3 hours of them).
fn ten_second_plan() -> Plan {
    let mut plan = Plan::default();
    plan.health.period_seconds = 10;
    plan.max_step_seconds = 2700;
    plan.validate().unwrap();
    plan
}

#[test]
fn ten_second_periods_keep_the_guarantee_and_the_power() {
    // Six times the looks and six times the observations: Ville's bound does not count them.
    let plan = ten_second_plan();
    let alpha = plan.health.errors.alpha;
    let same = run_cell(
        &plan,
        Rule::Sequential,
        &cell(10.0, 0.02, 0.02, 0.0),
        150,
        SEED,
        21,
    );
    assert!(same.rolled_back <= 2.0 * alpha, "{same:?}");
    assert!(same.completed >= 0.95, "{same:?}");
    let worse = run_cell(
        &plan,
        Rule::Sequential,
        &cell(10.0, 0.001, 0.01, 0.0),
        60,
        SEED,
        22,
    );
    assert!(worse.rolled_back >= 0.95, "{worse:?}");
    // Every request failing at 1 rps: caught on the first closed 10 s periods, not minutes.
    let failing = run_cell(
        &plan,
        Rule::Sequential,
        &cell(1.0, 0.001, 1.0, 0.0),
        60,
        SEED,
        23,
    );
    assert_eq!(failing.rolled_back, 1.0, "{failing:?}");
    assert!(
        failing.median_closed_minutes_to_rollback.unwrap() < 1.0,
        "{failing:?}"
    );
}

#[test]
fn a_much_worse_canary_is_rolled_back_and_the_threshold_rule_misses_it() {
    let worse = cell(10.0, 0.001, 0.01, 0.0);
    // Latency judged on the periods' means: the old rule's worst-period p99 of a few dozen
    // requests has false alarms of its own, and this test is about errors.
    let mut plan = Plan::default();
    plan.health.latency.statistic = "Average".into();
    let sequential = run_cell(&plan, Rule::Sequential, &worse, 60, SEED, 7);
    assert!(sequential.rolled_back >= 0.95, "{sequential:?}");
    let threshold = run_cell(&plan, Rule::Threshold, &worse, 60, SEED, 7);
    assert!(threshold.rolled_back <= 0.2, "{threshold:?}");
}

#[test]
fn every_request_failing_at_one_rps_is_caught_within_four_closed_minutes() {
    let summary = run_cell(
        &Plan::default(),
        Rule::Sequential,
        &cell(1.0, 0.001, 1.0, 0.0),
        60,
        SEED,
        9,
    );
    assert_eq!(summary.rolled_back, 1.0, "{summary:?}");
    assert!(
        summary.median_closed_minutes_to_rollback.unwrap() <= 4.0,
        "{summary:?}"
    );
}

#[test]
fn slow_canary_is_rolled_back_and_a_legitimately_slower_one_is_not() {
    let plan = Plan::default();
    let slow = run_cell(
        &plan,
        Rule::Sequential,
        &cell(1.0, 0.001, 0.001, 300.0),
        40,
        SEED,
        11,
    );
    assert_eq!(slow.rolled_back, 1.0, "{slow:?}");
    let fine = run_cell(
        &plan,
        Rule::Sequential,
        &cell(10.0, 0.001, 0.001, 50.0),
        60,
        SEED,
        12,
    );
    assert_eq!(fine.rolled_back, 0.0, "{fine:?}");
}

#[test]
fn the_same_seed_gives_the_same_canary() {
    let plan = Plan::default();
    let s = cell(10.0, 0.001, 0.02, 0.0);
    assert_eq!(
        run_canary(&plan, Rule::Sequential, &s, 5),
        run_canary(&plan, Rule::Sequential, &s, 5)
    );
    assert_eq!(grid().len(), 75);
}

#[test]
fn without_a_baseline_a_slower_canary_is_still_caught_against_stable() {
    // The lab's finding: canary 400 ms slower was released with T at the 2 s ceiling.
    let plan = Plan::default();
    for (i, rps) in [1.0, 10.0].into_iter().enumerate() {
        let slow = without_baseline(cell(rps, 0.001, 0.001, 400.0));
        let summary = run_cell(&plan, Rule::Sequential, &slow, 40, SEED, 30 + i as u64);
        assert_eq!(summary.rolled_back, 1.0, "{rps} rps: {summary:?}");
    }
    let fine = without_baseline(cell(10.0, 0.001, 0.001, 50.0));
    let summary = run_cell(&plan, Rule::Sequential, &fine, 60, SEED, 32);
    assert_eq!(summary.rolled_back, 0.0, "{summary:?}");
    assert!(summary.completed >= 0.95, "{summary:?}");
}

#[test]
fn a_slowdown_both_versions_share_is_not_v2s_fault() {
    // No errors on either side: any rollback here would be the latency test's.
    let plan = Plan::default();
    for (i, baseline) in [true, false].into_iter().enumerate() {
        let shared = Scenario {
            stable_extra_ms: 300.0,
            baseline,
            ..cell(10.0, 0.0, 0.0, 300.0)
        };
        let summary = run_cell(&plan, Rule::Sequential, &shared, 60, SEED, 40 + i as u64);
        assert_eq!(summary.rolled_back, 0.0, "baseline {baseline}: {summary:?}");
        assert!(
            summary.completed >= 0.95,
            "baseline {baseline}: {summary:?}"
        );
    }
}

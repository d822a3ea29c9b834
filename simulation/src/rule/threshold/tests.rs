use super::*;
use canary::decision::{
    Assess, CanaryState, Counts, Decision, Observation, Status, Weights, decide, decide_by,
};
use contract::{LatencyBreach, Plan};

const START: i64 = 1_800_000_000;
const SETTLE: i64 = 60;
const NOW: i64 = START + 300 + SETTLE;

fn plan() -> Plan {
    let mut plan = Plan {
        bake_seconds: 300,
        max_step_seconds: 1800,
        ..Plan::default()
    };
    plan.health.settle_seconds = SETTLE as u64;
    plan.health.latency.statistic = "Average".into();
    plan
}

fn counts(requests: u64, errors: u64, latency_ms: f64) -> Counts {
    Counts {
        requests,
        errors,
        latency_ms: Some(latency_ms),
        ..Counts::default()
    }
}

/// The first step (10 %) since the canary's start, five minutes of `stable` and `canary`.
fn first_step(stable: Counts, canary: Counts) -> (CanaryState, Observation) {
    let state = CanaryState {
        status: Status::Running,
        step: 0,
        step_started_at: START,
        bake_started_at: START,
        bake_skipped: false,
        canary_started_at: START,
        version: 3,
        reason: None,
    };
    let observed = Observation {
        periods: (0..5)
            .map(|i| Period {
                t: START + 60 * i,
                stable,
                canary,
            })
            .collect(),
        baseline_ms: Some(20.0),
        calibration: None,
        canary_healthy_targets: 1,
    };
    (state, observed)
}

fn judged_by(assess: Assess, plan: &Plan, stable: Counts, canary: Counts) -> Decision {
    let (state, observed) = first_step(stable, canary);
    let live = Weights::for_percent(10);
    decide_by(assess, plan, Some(&state), live, &observed, NOW).decision
}

#[test]
fn the_old_rule_rolls_back_on_its_fixed_thresholds() {
    let p = plan();
    let d = judged_by(assess, &p, counts(900, 0, 20.0), counts(100, 6, 70.0));
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("error rate 0.0600")),
        "{d:?}"
    );
    let d = judged_by(assess, &p, counts(900, 0, 20.0), counts(100, 0, 121.0));
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("allowance 120.0")),
        "{d:?}"
    );
    // Above the ceiling is never only a hold.
    let mut hold = plan();
    hold.health.latency.on_breach = LatencyBreach::Hold;
    let d = judged_by(
        assess,
        &hold,
        counts(900, 0, 1990.0),
        counts(100, 0, 2001.0),
    );
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("ceiling")),
        "{d:?}"
    );
}

#[test]
fn a_window_is_judged_by_the_rule_it_is_given_and_decide_is_the_functions_judge() {
    let p = plan();
    // An outage both versions share: 6 % errors each.
    let (stable, canary) = (counts(900, 54, 20.0), counts(100, 6, 70.0));
    // The old rule sees only the canary's 6 % above its fixed 5 %...
    let old = judged_by(assess, &p, stable, canary);
    assert!(matches!(old, Decision::RollBack { .. }), "{old:?}");
    // ...the sequential test sees a canary no worse than the stable version.
    let deployed = judged_by(judge::assess_with_verdict, &p, stable, canary);
    assert!(matches!(deployed, Decision::Promote { .. }), "{deployed:?}");
    let (state, observed) = first_step(stable, canary);
    let live = Weights::for_percent(10);
    assert_eq!(decide(&p, Some(&state), live, &observed, NOW), deployed);
}

use super::*;
use contract::LatencyBreach;

/// The canary started at START; decisions are taken on whole minutes after it.
const START: i64 = 1_800_000_000;
const SETTLE: i64 = 60;

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

fn running(step: usize, started: i64) -> CanaryState {
    CanaryState {
        status: Status::Running,
        step,
        step_started_at: started,
        bake_started_at: started,
        bake_skipped: false,
        canary_started_at: START,
        version: 3,
        reason: None,
    }
}

fn counts(requests: u64, errors: u64, latency_ms: f64) -> Counts {
    Counts {
        requests,
        errors,
        latency_ms: Some(latency_ms),
        ..Counts::default()
    }
}

/// `n` minutes from `from`, each with stable and canary as given.
fn periods(from: i64, n: i64, stable: Counts, canary: Counts) -> Vec<Period> {
    (0..n)
        .map(|i| Period {
            t: from + 60 * i,
            stable,
            canary,
        })
        .collect()
}

/// Ten healthy minutes since the start: stable 900 requests a minute, canary 100, canary ~50 ms slower.
fn healthy() -> Observation {
    Observation {
        periods: periods(START, 10, counts(900, 1, 20.0), counts(100, 0, 70.0)),
        baseline_ms: Some(20.0),
        calibration: None,
        canary_healthy_targets: 1,
    }
}

fn at(step: usize) -> Weights {
    Weights::for_percent(plan().steps[step])
}

/// A decision at `now` on step `step` (begun at the canary's start).
fn decide_at(obs: &Observation, step: usize, now: i64) -> Decision {
    decide(&plan(), Some(&running(step, START)), at(step), obs, now)
}

#[test]
fn weights_validate_alb_limits() {
    assert!(Weights::new(999, 0).is_ok());
    assert!(Weights::new(1000, 0).unwrap_err().contains("1000"));
    assert!(Weights::new(0, 0).unwrap_err().contains("0/0"));
    assert!(
        Weights::new(900, 100)
            .unwrap()
            .same_split(&Weights::for_percent(10))
    );
    assert!(
        !Weights::new(80, 20)
            .unwrap()
            .same_split(&Weights::for_percent(10))
    );
    assert_eq!(
        Weights::for_percent(100),
        Weights {
            stable: 0,
            canary: 100
        }
    );
}

#[test]
fn start_promotes_to_first_step_onto_healthy_targets_only() {
    let d = decide(&plan(), None, Weights::STABLE_ONLY, &healthy(), START);
    assert_eq!(
        d,
        Decision::Promote {
            step: 0,
            weights: Weights {
                stable: 90,
                canary: 10
            }
        }
    );
    let none = Observation {
        canary_healthy_targets: 0,
        ..healthy()
    };
    let d = decide(&plan(), None, Weights::STABLE_ONLY, &none, START);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("no healthy targets")));
    let d = decide(&plan(), None, at(1), &healthy(), START);
    assert_eq!(
        d,
        Decision::Drift {
            found: at(1),
            expected: Weights::STABLE_ONLY
        }
    );
}

#[test]
fn healthy_and_baked_on_closed_data_promotes() {
    // 300 s of bake judged once now − settle reaches the step's start + 300.
    let now = START + 300 + SETTLE;
    assert_eq!(
        decide_at(&healthy(), 1, now),
        Decision::Promote {
            step: 2,
            weights: at(2)
        }
    );
    let d = decide_at(&healthy(), 1, now - 1);
    assert!(
        matches!(&d, Decision::Hold { reason } if reason.contains("baking: 299 s of 300 s judged")),
        "{d:?}"
    );
}

#[test]
fn the_plans_period_decides_which_periods_are_closed() {
    // 10 s periods (canary 17 requests each) and a step started mid-period at START + 5. At
    // START + 305 + SETTLE the bake is over and the periods up to START + 300 are judged.
    let mut plan = plan();
    plan.health.period_seconds = 10;
    let obs = Observation {
        periods: (0..40)
            .map(|i| Period {
                t: START + 10 * i,
                stable: counts(150, 0, 20.0),
                canary: counts(17, 0, 70.0),
            })
            .collect(),
        baseline_ms: Some(20.0),
        calibration: None,
        canary_healthy_targets: 1,
    };
    let state = running(1, START + 5);
    let now = START + 305 + SETTLE;
    let judged = decide_with_statistics(&plan, Some(&state), at(1), &obs, now);
    assert_eq!(
        judged.decision,
        Decision::Promote {
            step: 2,
            weights: at(2)
        }
    );
    let stats = judged.statistics.unwrap();
    assert_eq!((stats.period_seconds, stats.closed_periods), (10, 30));
    assert_eq!(stats.judged_until, Some(START + 300));
    assert_eq!(stats.step_canary_requests, 30 * 17);
    // The same series read as minutes: each entry one minute, so the ones still open drop out.
    plan.health.period_seconds = 60;
    let stats = decide_with_statistics(&plan, Some(&state), at(1), &obs, now)
        .statistics
        .unwrap();
    assert_eq!(
        (stats.closed_periods, stats.judged_until),
        (25, Some(START + 300))
    );
}

#[test]
fn last_step_baked_completes_and_statistics_come_with_every_decision() {
    let mut obs = healthy();
    for m in &mut obs.periods {
        m.stable = Counts::default();
    }
    let judged =
        decide_with_statistics(&plan(), Some(&running(3, START)), at(3), &obs, START + 600);
    assert_eq!(judged.decision, Decision::Complete);
    let stats = judged.statistics.unwrap();
    assert_eq!(stats.closed_periods, 9, "the tenth minute is not settled");
    assert!(stats.errors.final_step.is_some());
    assert_eq!(stats.latency.threshold_ms, 120.0);
}

#[test]
fn too_little_data_holds_a_promotion_but_never_a_rollback() {
    let thin = Observation {
        periods: periods(START, 10, counts(900, 0, 20.0), counts(4, 0, 70.0)),
        ..healthy()
    };
    let d = decide_at(&thin, 1, START + 900);
    assert!(
        matches!(&d, Decision::Hold { reason } if reason.contains("insufficient data: 40 canary requests")),
        "{d:?}"
    );
    // 49 of 49 canary requests failing is no "too little data".
    let failing = Observation {
        periods: periods(START, 1, counts(441, 0, 20.0), counts(49, 49, 70.0)),
        ..healthy()
    };
    let d = decide_at(&failing, 0, START + 60 + SETTLE);
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("canary errors 49 of 49")),
        "{d:?}"
    );
}

#[test]
fn connection_errors_count_as_errors() {
    let refusing = Observation {
        periods: periods(
            START,
            3,
            counts(900, 1, 20.0),
            Counts {
                requests: 100,
                connection_errors: 20,
                ..Counts::default()
            },
        ),
        ..healthy()
    };
    assert!(matches!(
        decide_at(&refusing, 0, START + 180 + SETTLE),
        Decision::RollBack { .. }
    ));
}

#[test]
fn a_shared_outage_is_not_v2s_fault() {
    let outage = Observation {
        periods: periods(START, 10, counts(900, 54, 20.0), counts(100, 6, 70.0)),
        ..healthy()
    };
    assert!(matches!(
        decide_at(&outage, 1, START + 600 + SETTLE),
        Decision::Promote { .. }
    ));
}

#[test]
fn minutes_not_yet_settled_or_before_the_canary_are_not_judged() {
    let mut obs = healthy();
    obs.periods.extend(periods(
        START + 600,
        1,
        counts(900, 0, 20.0),
        counts(100, 100, 70.0),
    ));
    obs.periods.extend(periods(
        START - 600,
        5,
        counts(900, 0, 20.0),
        counts(100, 100, 70.0),
    ));
    // The failing minute [600, 660) is closed once now − 60 ≥ 660.
    assert!(matches!(
        decide_at(&obs, 1, START + 719),
        Decision::Promote { .. }
    ));
    assert!(matches!(
        decide_at(&obs, 1, START + 720),
        Decision::RollBack { .. }
    ));
}

#[test]
fn slow_canary_rolls_back_or_holds_as_configured_and_fifty_ms_is_fine() {
    let slow = Observation {
        periods: periods(START, 3, counts(900, 0, 20.0), counts(100, 0, 400.0)),
        ..healthy()
    };
    let d = decide_at(&slow, 0, START + 180 + SETTLE);
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("slower than T 120.0 ms")),
        "{d:?}"
    );
    let mut p = plan();
    p.health.latency.on_breach = LatencyBreach::Hold;
    let d = decide(
        &p,
        Some(&running(0, START)),
        at(0),
        &slow,
        START + 180 + SETTLE,
    );
    assert!(matches!(&d, Decision::Hold { reason } if reason.contains("slower than T")));
    // Percentile rank: 1 slow request of 100 a minute is the acceptable 1 %.
    let mut p = plan();
    p.health.latency.statistic = "p99".into();
    let mut fine = healthy();
    for m in &mut fine.periods {
        m.canary.slow = Some(1);
    }
    let d = decide(
        &p,
        Some(&running(1, START)),
        at(1),
        &fine,
        START + 600 + SETTLE,
    );
    assert!(matches!(d, Decision::Promote { .. }), "{d:?}");
}

#[test]
fn at_100_percent_canary_is_compared_with_v1s_earlier_rate() {
    // Stable at 0.1 % for 20 minutes before the last step; canary alone at 3 % since.
    let mut obs = Observation {
        periods: periods(START, 20, counts(900, 1, 20.0), counts(100, 0, 70.0)),
        ..healthy()
    };
    obs.periods.extend(periods(
        START + 1200,
        10,
        Counts::default(),
        counts(1000, 30, 70.0),
    ));
    let state = running(3, START + 1200);
    let judged = decide_with_statistics(&plan(), Some(&state), at(3), &obs, START + 1800 + SETTLE);
    assert!(
        matches!(&judged.decision, Decision::RollBack { reason } if reason.contains("at 100 %")),
        "{:?}",
        judged.decision
    );
    let f = judged.statistics.unwrap().errors.final_step.unwrap();
    assert!(
        f.stable_upper_rate > 0.001 && f.stable_upper_rate < 0.01,
        "{f:?}"
    );
}

#[test]
fn judging_continues_while_paused_and_on_drift() {
    let failing = Observation {
        periods: periods(START, 3, counts(900, 0, 20.0), counts(100, 30, 70.0)),
        ..healthy()
    };
    let mut paused = running(1, START);
    paused.status = Status::Paused;
    let now = START + 180 + SETTLE;
    assert!(matches!(
        decide(&plan(), Some(&paused), at(1), &failing, now),
        Decision::RollBack { .. }
    ));
    let d = decide(&plan(), Some(&paused), at(1), &healthy(), START + 900);
    assert!(matches!(&d, Decision::Hold { reason } if reason.contains("paused")));
    let drifted = Weights {
        stable: 70,
        canary: 30,
    };
    assert!(matches!(
        decide(&plan(), Some(&running(1, START)), drifted, &failing, now),
        Decision::RollBack { .. }
    ));
    assert_eq!(
        decide(&plan(), Some(&running(1, START)), drifted, &healthy(), now),
        Decision::Drift {
            found: drifted,
            expected: at(1)
        }
    );
}

#[test]
fn a_hold_older_than_max_step_seconds_pauses() {
    let quiet = Observation {
        periods: Vec::new(),
        ..healthy()
    };
    let d = decide_at(&quiet, 0, START + 1800);
    assert!(matches!(d, Decision::Hold { .. }), "{d:?}");
    let d = decide_at(&quiet, 0, START + 1801);
    assert!(
        matches!(&d, Decision::Pause { reason } if reason.contains("max_step_seconds 1800") && reason.contains("insufficient data")),
        "{d:?}"
    );
    assert_eq!(d.writes(), None);
}

#[test]
fn recorded_statuses_and_steps_outside_the_plan() {
    let mut s = running(2, START);
    s.status = Status::RolledBack;
    assert!(
        matches!(decide(&plan(), Some(&s), Weights::STABLE_ONLY, &healthy(), START), Decision::Hold { reason } if reason.contains("rolled back"))
    );
    s.status = Status::Complete;
    assert_eq!(
        decide(&plan(), Some(&s), at(3), &healthy(), START),
        Decision::Complete
    );
    let d = decide(&plan(), Some(&running(9, START)), at(1), &healthy(), START);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("step 9")));
}

#[test]
fn expected_weights_per_status_and_status_text() {
    let p = plan();
    assert_eq!(expected_weights(&p, None), Some(Weights::STABLE_ONLY));
    let mut s = running(2, 0);
    assert_eq!(expected_weights(&p, Some(&s)), Some(at(2)));
    s.status = Status::RolledBack;
    assert_eq!(expected_weights(&p, Some(&s)), Some(Weights::STABLE_ONLY));
    s.status = Status::Paused;
    assert_eq!(expected_weights(&p, Some(&s)), None);
    for s in [
        Status::Running,
        Status::Paused,
        Status::RolledBack,
        Status::Complete,
    ] {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    assert_eq!(Status::parse("bogus"), None);
}

#[test]
fn without_stable_latency_a_step_holds_and_a_calibration_restarts_its_bake() {
    let uncalibrated = Observation {
        baseline_ms: None,
        ..healthy()
    };
    // Ten healthy minutes, bake over: still held, latency would be judged at the ceiling only.
    let d = decide_at(&uncalibrated, 0, START + 600 + SETTLE);
    assert!(
        matches!(&d, Decision::Hold { reason } if reason.contains("latency threshold is not fixed yet")),
        "{d:?}"
    );
    // The stable version's span up to START + 360 fixes T: the bake counts from there.
    let calibrated = Observation {
        calibration: Some(Calibration {
            stable_ms: 20.0,
            until: START + 360,
        }),
        ..uncalibrated
    };
    let d = decide_at(&calibrated, 0, START + 360 + 299 + SETTLE);
    assert!(
        matches!(&d, Decision::Hold { reason } if reason.contains("baking: 299 s of 300 s")),
        "{d:?}"
    );
    assert!(matches!(
        decide_at(&calibrated, 0, START + 360 + 300 + SETTLE),
        Decision::Promote { step: 1, .. }
    ));
    // The same canary 400 ms slow after the calibration is rolled back against the stable version's 20 ms.
    let mut slow = calibrated.clone();
    for m in slow.periods.iter_mut().filter(|m| m.t >= START + 360) {
        m.canary.latency_ms = Some(420.0);
    }
    let d = decide_at(&slow, 0, START + 600 + SETTLE);
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("slower than T 120.0 ms (calibration)")),
        "{d:?}"
    );
}

/// Found by the fault exploration (`ops/tests/faults/`, "promotion: deploying → first step /
/// crash after call 5"): a run wrote the first step and died before recording it. The next run
/// takes the same decision again (and so records it) instead of reporting drift forever.
#[test]
fn crash_after_the_first_steps_listener_write_is_taken_again() {
    assert_eq!(
        decide(&plan(), None, at(0), &healthy(), START),
        Decision::Promote {
            step: 0,
            weights: at(0)
        }
    );
    // Not onto a fleet with no healthy target, and no other split.
    let none = Observation {
        canary_healthy_targets: 0,
        ..healthy()
    };
    assert!(matches!(
        decide(&plan(), None, at(0), &none, START),
        Decision::Drift { .. }
    ));
}

/// Found by the fault exploration ("promotion: a step (10 → 25 %) / crash after call 9"): the
/// listener at the next step, the state at this one. Baked and healthy, the promotion is taken
/// again; otherwise (the bake not over, canary failing, two steps ahead) it is not the controller's.
#[test]
fn crash_after_a_steps_listener_write_is_taken_again_once_baked() {
    let baked = START + 300 + SETTLE;
    let state = running(1, START);
    assert_eq!(
        decide(&plan(), Some(&state), at(2), &healthy(), baked),
        Decision::Promote {
            step: 2,
            weights: at(2)
        }
    );
    assert_eq!(
        decide(&plan(), Some(&state), at(2), &healthy(), baked - 1),
        Decision::Drift {
            found: at(2),
            expected: at(1)
        }
    );
    assert!(matches!(
        decide(&plan(), Some(&state), at(3), &healthy(), baked),
        Decision::Drift { .. }
    ));
    let failing = Observation {
        periods: periods(START, 10, counts(900, 1, 20.0), counts(100, 50, 70.0)),
        ..healthy()
    };
    assert!(matches!(
        decide(&plan(), Some(&state), at(2), &failing, baked),
        Decision::RollBack { .. }
    ));
}

use super::*;
use contract::{LatencyBreach, Method};
use proptest::prelude::*;

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

/// `n` minutes from `from`, each with V1 and V2 as given.
fn minutes(from: i64, n: i64, v1: Counts, v2: Counts) -> Vec<Minute> {
    (0..n)
        .map(|i| Minute {
            t: from + 60 * i,
            v1,
            v2,
        })
        .collect()
}

/// Ten healthy minutes since the start: V1 900 requests a minute, V2 100, V2 ~50 ms slower.
fn healthy() -> Observation {
    Observation {
        minutes: minutes(START, 10, counts(900, 1, 20.0), counts(100, 0, 70.0)),
        baseline_ms: Some(20.0),
        v2_healthy_targets: 1,
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
    assert_eq!(Weights::for_percent(100), Weights { v1: 0, v2: 100 });
}

#[test]
fn start_promotes_to_first_step_onto_healthy_targets_only() {
    let d = decide(&plan(), None, Weights::STABLE_ONLY, &healthy(), START);
    assert_eq!(
        d,
        Decision::Promote {
            step: 0,
            weights: Weights { v1: 90, v2: 10 }
        }
    );
    let none = Observation {
        v2_healthy_targets: 0,
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
fn last_step_baked_completes_and_statistics_come_with_every_decision() {
    let mut obs = healthy();
    for m in &mut obs.minutes {
        m.v1 = Counts::default();
    }
    let judged =
        decide_with_statistics(&plan(), Some(&running(3, START)), at(3), &obs, START + 600);
    assert_eq!(judged.decision, Decision::Complete);
    let stats = judged.statistics.unwrap();
    assert_eq!(stats.closed_minutes, 9, "the tenth minute is not settled");
    assert!(stats.errors.final_step.is_some());
    assert_eq!(stats.latency.threshold_ms, 120.0);
}

#[test]
fn too_little_data_holds_a_promotion_but_never_a_rollback() {
    let thin = Observation {
        minutes: minutes(START, 10, counts(900, 0, 20.0), counts(4, 0, 70.0)),
        ..healthy()
    };
    let d = decide_at(&thin, 1, START + 900);
    assert!(
        matches!(&d, Decision::Hold { reason } if reason.contains("insufficient data: 40 V2 requests")),
        "{d:?}"
    );
    // 49 of 49 V2 requests failing is no "too little data".
    let failing = Observation {
        minutes: minutes(START, 1, counts(441, 0, 20.0), counts(49, 49, 70.0)),
        ..healthy()
    };
    let d = decide_at(&failing, 0, START + 60 + SETTLE);
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("V2 errors 49 of 49")),
        "{d:?}"
    );
}

#[test]
fn connection_errors_count_as_errors() {
    let refusing = Observation {
        minutes: minutes(
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
        minutes: minutes(START, 10, counts(900, 54, 20.0), counts(100, 6, 70.0)),
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
    obs.minutes.extend(minutes(
        START + 600,
        1,
        counts(900, 0, 20.0),
        counts(100, 100, 70.0),
    ));
    obs.minutes.extend(minutes(
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
fn slow_v2_rolls_back_or_holds_as_configured_and_fifty_ms_is_fine() {
    let slow = Observation {
        minutes: minutes(START, 3, counts(900, 0, 20.0), counts(100, 0, 400.0)),
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
    for m in &mut fine.minutes {
        m.v2.slow = Some(1);
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
fn at_100_percent_v2_is_compared_with_v1s_earlier_rate() {
    // V1 at 0.1 % for 20 minutes before the last step; V2 alone at 3 % since.
    let mut obs = Observation {
        minutes: minutes(START, 20, counts(900, 1, 20.0), counts(100, 0, 70.0)),
        ..healthy()
    };
    obs.minutes.extend(minutes(
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
    assert!(f.v1_upper_rate > 0.001 && f.v1_upper_rate < 0.01, "{f:?}");
}

#[test]
fn judging_continues_while_paused_and_on_drift() {
    let failing = Observation {
        minutes: minutes(START, 3, counts(900, 0, 20.0), counts(100, 30, 70.0)),
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
    let drifted = Weights { v1: 70, v2: 30 };
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
        minutes: Vec::new(),
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
fn the_threshold_method_is_the_old_rule() {
    let mut p = plan();
    p.health.errors.method = Method::Threshold;
    p.health.latency.method = Method::Threshold;
    let obs = Observation {
        minutes: minutes(START, 5, counts(900, 0, 20.0), counts(100, 6, 70.0)),
        ..healthy()
    };
    let d = decide(
        &p,
        Some(&running(1, START)),
        at(1),
        &obs,
        START + 300 + SETTLE,
    );
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("error rate 0.0600")),
        "{d:?}"
    );
    let slow = Observation {
        minutes: minutes(START, 5, counts(900, 0, 20.0), counts(100, 0, 121.0)),
        ..healthy()
    };
    let d = decide(
        &p,
        Some(&running(1, START)),
        at(1),
        &slow,
        START + 300 + SETTLE,
    );
    assert!(
        matches!(&d, Decision::RollBack { reason } if reason.contains("allowance 120.0")),
        "{d:?}"
    );
    p.health.latency.on_breach = LatencyBreach::Hold;
    let over = Observation {
        minutes: minutes(START, 5, counts(900, 0, 1990.0), counts(100, 0, 2001.0)),
        ..healthy()
    };
    let d = decide(
        &p,
        Some(&running(1, START)),
        at(1),
        &over,
        START + 300 + SETTLE,
    );
    assert!(matches!(&d, Decision::RollBack { reason } if reason.contains("ceiling")));
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

// ---- properties ----

fn arb_plan() -> impl Strategy<Value = Plan> {
    (
        proptest::collection::btree_set(1u8..100, 0..5),
        0u64..1200,
        0u64..300,
        1u64..500,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(steps, bake, settle, min, threshold, hold)| {
            let mut steps: Vec<u8> = steps.into_iter().collect();
            steps.push(100);
            let mut plan = Plan {
                steps,
                bake_seconds: bake,
                max_step_seconds: bake + settle + 600,
                ..Plan::default()
            };
            plan.health.settle_seconds = settle;
            plan.health.min_requests = min;
            plan.health.latency.statistic = "Average".into();
            if threshold {
                plan.health.errors.method = Method::Threshold;
                plan.health.latency.method = Method::Threshold;
            }
            if hold {
                plan.health.latency.on_breach = LatencyBreach::Hold;
            }
            plan
        })
}

fn arb_counts() -> impl Strategy<Value = Counts> {
    (0u64..3000, 0u64..60, 0u64..5, 0.0f64..3000.0).prop_map(|(requests, e, c, l)| Counts {
        requests,
        errors: e.min(requests),
        connection_errors: c,
        slow: None,
        latency_ms: Some(l),
    })
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    (
        proptest::collection::btree_map(-5i64..40, (arb_counts(), arb_counts()), 0..30),
        proptest::option::of(0.0f64..500.0),
        0u32..3,
    )
        .prop_map(|(minutes, baseline_ms, h)| Observation {
            minutes: minutes
                .into_iter()
                .map(|(k, (v1, v2))| Minute {
                    t: START + 60 * k,
                    v1,
                    v2,
                })
                .collect(),
            baseline_ms,
            v2_healthy_targets: h,
        })
}

fn arb_status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Running),
        Just(Status::Paused),
        Just(Status::RolledBack),
        Just(Status::Complete)
    ]
}

/// A plan, an optional state on it, live weights (usually the expected ones, sometimes drifted).
fn arb_case() -> impl Strategy<Value = (Plan, Option<CanaryState>, Weights, Observation, i64)> {
    arb_plan().prop_flat_map(|plan| {
        let n = plan.steps.len();
        (
            Just(plan),
            proptest::option::of((arb_status(), 0..n, 0i64..1800, 0u64..10)),
            any::<bool>(),
            (0u16..=MAX_WEIGHT, 0u16..=MAX_WEIGHT),
            arb_observation(),
            0i64..4000,
        )
            .prop_map(|(plan, st, drifted, (d1, d2), obs, later)| {
                let state = st.map(|(status, step, offset, version)| CanaryState {
                    status,
                    step,
                    step_started_at: START + offset,
                    canary_started_at: START,
                    version,
                    reason: None,
                });
                let live = match (drifted, expected_weights(&plan, state.as_ref())) {
                    (false, Some(w)) => w,
                    _ => Weights::new(d1, d2).unwrap_or(Weights::STABLE_ONLY),
                };
                let now = state.as_ref().map_or(START, |s| s.step_started_at) + later;
                (plan, state, live, obs, now)
            })
    })
}

fn v2_percent_of_step(plan: &Plan, state: Option<&CanaryState>) -> f64 {
    state.map_or(0.0, |s| f64::from(plan.steps[s.step]))
}

proptest! {
    #[test]
    fn every_promotion_writes_a_valid_listener_action((plan, state, live, obs, now) in arb_case()) {
        if let Decision::Promote { weights, .. } = decide(&plan, state.as_ref(), live, &obs, now) {
            prop_assert!(Weights::new(weights.v1, weights.v2).is_ok());
        }
    }

    #[test]
    fn promote_never_skips_a_step_nor_cuts_a_bake_short((plan, state, live, obs, now) in arb_case()) {
        if let Decision::Promote { step, weights } = decide(&plan, state.as_ref(), live, &obs, now) {
            match &state {
                None => prop_assert_eq!(step, 0),
                Some(s) => {
                    prop_assert_eq!(s.status, Status::Running);
                    prop_assert_eq!(step, s.step + 1);
                    let judged = now - plan.health.settle_seconds as i64 - s.step_started_at;
                    prop_assert!(judged >= plan.bake_seconds as i64);
                }
            }
            prop_assert_eq!(weights, Weights::for_percent(plan.steps[step]));
        }
    }

    #[test]
    fn v2_share_never_decreases_except_by_rollback((plan, state, live, obs, now) in arb_case()) {
        let before = v2_percent_of_step(&plan, state.as_ref());
        match decide(&plan, state.as_ref(), live, &obs, now) {
            d @ Decision::Promote { .. } => {
                prop_assert!(d.writes().unwrap().v2_percent() > before)
            }
            d => {
                let ok = d.writes().is_none() || matches!(d, Decision::RollBack { .. });
                prop_assert!(ok);
            }
        }
    }

    #[test]
    fn a_rollback_always_yields_v2_zero((plan, state, live, obs, now) in arb_case()) {
        let d = decide(&plan, state.as_ref(), live, &obs, now);
        if let Decision::RollBack { .. } = d {
            prop_assert_eq!(d.writes().map(|w| w.v2), Some(0));
            prop_assert!(state.is_some_and(|s| matches!(s.status, Status::Running | Status::Paused)));
        }
    }

    #[test]
    fn no_data_never_rolls_back((plan, state, live, mut obs, now) in arb_case()) {
        obs.minutes.clear();
        let d = decide(&plan, state.as_ref(), live, &obs, now);
        prop_assert!(!matches!(d, Decision::RollBack { .. }), "{:?}", d);
    }

    #[test]
    fn a_paused_canary_never_promotes((plan, state, live, obs, now) in arb_case()) {
        let d = decide(&plan, state.as_ref(), live, &obs, now);
        if state.is_some_and(|s| s.status == Status::Paused) {
            prop_assert!(d.writes().is_none_or(|w| w.v2 == 0), "{:?}", d);
        }
    }

    #[test]
    fn insufficient_data_never_promotes(
        (plan, state, _live, mut obs, now) in arb_case(),
    ) {
        let state = state.map(|mut s| { s.status = Status::Running; s });
        let live = expected_weights(&plan, state.as_ref()).unwrap();
        for m in &mut obs.minutes {
            m.v2.requests %= plan.health.min_requests.div_ceil(40).max(1);
        }
        let d = decide(&plan, state.as_ref(), live, &obs, now);
        if state.is_some() {
            prop_assert!(!matches!(d, Decision::Promote { .. } | Decision::Complete), "{:?}", d);
        }
    }

    #[test]
    fn the_order_of_the_minutes_changes_nothing(
        (plan, state, live, obs, now) in arb_case(),
        rotate in 0usize..30,
    ) {
        let mut shuffled = obs.clone();
        let n = shuffled.minutes.len().max(1);
        shuffled.minutes.rotate_left(rotate % n);
        shuffled.minutes.reverse();
        let a = decide_with_statistics(&plan, state.as_ref(), live, &obs, now);
        let b = decide_with_statistics(&plan, state.as_ref(), live, &shuffled, now);
        prop_assert_eq!(&a.decision, &b.decision);
        let ln = |j: &Judged| j.statistics.as_ref().map(|s| (s.errors.ln_e_relative, s.errors.ln_e_absolute));
        match (ln(&a), ln(&b)) {
            (Some((Some(r1), a1)), Some((Some(r2), a2))) => {
                prop_assert!((r1 - r2).abs() < 1e-9);
                prop_assert_eq!(a1.is_some(), a2.is_some());
            }
            (x, y) => prop_assert_eq!(x, y),
        }
    }
}

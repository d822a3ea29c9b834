use super::*;
use contract::HealthRules;
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000;

fn plan() -> Plan {
    Plan {
        steps: vec![10, 25, 50, 100],
        bake_seconds: 300,
        health: HealthRules {
            max_error_rate: 0.05,
            max_latency_ratio: Some(1.5),
            max_latency_margin_ms: Some(80.0),
            max_latency_ms: 1000.0,
            min_requests: 50,
            latency_statistic: "Average".into(),
            on_latency_breach: LatencyBreach::RollBack,
        },
    }
}

fn running(step: usize, started: i64) -> CanaryState {
    CanaryState {
        status: Status::Running,
        step,
        step_started_at: started,
        version: 3,
        reason: None,
    }
}

fn healthy() -> Observation {
    Observation {
        v1: TgMetrics {
            requests: 900,
            errors_5xx: 1,
            latency_ms: Some(20.0),
        },
        v2: TgMetrics {
            requests: 100,
            errors_5xx: 1,
            latency_ms: Some(70.0),
        },
        v2_healthy_targets: 1,
    }
}

fn at(step: usize) -> Weights {
    Weights::for_percent(plan().steps[step])
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
fn start_promotes_to_first_step_when_v2_is_healthy() {
    let d = decide(&plan(), None, Weights::STABLE_ONLY, &healthy(), NOW);
    assert_eq!(
        d,
        Decision::Promote {
            step: 0,
            weights: Weights { v1: 90, v2: 10 }
        }
    );
}

#[test]
fn start_holds_without_healthy_v2_targets() {
    let obs = Observation {
        v2_healthy_targets: 0,
        ..healthy()
    };
    let d = decide(&plan(), None, Weights::STABLE_ONLY, &obs, NOW);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("no healthy targets")));
}

#[test]
fn start_reports_drift_when_v2_already_has_traffic() {
    let d = decide(&plan(), None, at(1), &healthy(), NOW);
    assert_eq!(
        d,
        Decision::Drift {
            found: at(1),
            expected: Weights::STABLE_ONLY
        }
    );
}

#[test]
fn healthy_and_baked_promotes_to_the_next_step() {
    let d = decide(
        &plan(),
        Some(&running(1, NOW - 300)),
        at(1),
        &healthy(),
        NOW,
    );
    assert_eq!(
        d,
        Decision::Promote {
            step: 2,
            weights: at(2)
        }
    );
}

#[test]
fn healthy_but_not_baked_holds() {
    let d = decide(
        &plan(),
        Some(&running(1, NOW - 299)),
        at(1),
        &healthy(),
        NOW,
    );
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("baking")));
}

#[test]
fn last_step_baked_completes() {
    let d = decide(
        &plan(),
        Some(&running(3, NOW - 600)),
        at(3),
        &healthy(),
        NOW,
    );
    assert_eq!(d, Decision::Complete);
}

#[test]
fn last_step_ignores_missing_v1_latency() {
    let obs = Observation {
        v1: TgMetrics::default(),
        ..healthy()
    };
    let d = decide(&plan(), Some(&running(3, NOW - 600)), at(3), &obs, NOW);
    assert_eq!(d, Decision::Complete);
}

#[test]
fn recorded_statuses_other_than_running() {
    let mut s = running(2, 0);
    s.status = Status::RolledBack;
    assert!(
        matches!(decide(&plan(), Some(&s), Weights::STABLE_ONLY, &healthy(), NOW), Decision::Hold { reason } if reason.contains("rolled back"))
    );
    s.status = Status::Paused;
    assert!(
        matches!(decide(&plan(), Some(&s), at(2), &healthy(), NOW), Decision::Hold { reason } if reason.contains("paused"))
    );
    s.status = Status::Complete;
    assert_eq!(
        decide(&plan(), Some(&s), at(3), &healthy(), NOW),
        Decision::Complete
    );
}

#[test]
fn step_outside_the_plan_holds() {
    let d = decide(&plan(), Some(&running(9, 0)), at(1), &healthy(), NOW);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("step 9")));
}

#[test]
fn weights_changed_by_someone_else_are_drift() {
    let found = Weights { v1: 70, v2: 30 };
    let d = decide(&plan(), Some(&running(1, 0)), found, &healthy(), NOW);
    assert_eq!(
        d,
        Decision::Drift {
            found,
            expected: at(1)
        }
    );
}

#[test]
fn same_split_with_other_integers_is_not_drift() {
    let d = decide(
        &plan(),
        Some(&running(0, NOW - 300)),
        Weights { v1: 900, v2: 100 },
        &healthy(),
        NOW,
    );
    assert!(matches!(d, Decision::Promote { step: 1, .. }));
}

#[test]
fn too_few_v2_requests_holds() {
    let mut obs = healthy();
    obs.v2.requests = 49;
    obs.v2.errors_5xx = 49;
    let d = decide(&plan(), Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("insufficient data: 49")));
}

#[test]
fn error_rate_above_ceiling_rolls_back() {
    let mut obs = healthy();
    obs.v2.errors_5xx = 6;
    let d = decide(&plan(), Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::RollBack { reason } if reason.contains("5XX rate 0.0600")));
}

#[test]
fn error_rate_at_ceiling_is_healthy() {
    let mut obs = healthy();
    obs.v2.errors_5xx = 5;
    let d = decide(&plan(), Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::Promote { .. }));
}

#[test]
fn missing_v2_latency_holds() {
    let mut obs = healthy();
    obs.v2.latency_ms = None;
    let d = decide(&plan(), Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("no V2 latency")));
}

#[test]
fn latency_above_absolute_ceiling_rolls_back_even_when_configured_to_hold() {
    let mut p = plan();
    p.health.on_latency_breach = LatencyBreach::Hold;
    let mut obs = healthy();
    obs.v2.latency_ms = Some(1000.5);
    obs.v1.latency_ms = Some(990.0);
    let d = decide(&p, Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::RollBack { reason } if reason.contains("ceiling")));
}

#[test]
fn missing_v1_latency_holds_while_v1_serves() {
    let mut obs = healthy();
    obs.v1.latency_ms = None;
    let d = decide(&plan(), Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("no V1 latency")));
}

#[test]
fn v2_fifty_ms_slower_is_within_the_margin() {
    let mut obs = healthy();
    obs.v1.latency_ms = Some(20.0);
    obs.v2.latency_ms = Some(99.0); // ratio allows 30, margin allows 100
    let d = decide(&plan(), Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::Promote { .. }), "{d:?}");
}

#[test]
fn v2_slower_than_every_allowance_rolls_back_or_holds_as_configured() {
    let mut obs = healthy();
    obs.v1.latency_ms = Some(20.0);
    obs.v2.latency_ms = Some(101.0);
    let d = decide(&plan(), Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::RollBack { reason } if reason.contains("allowance 100.0")));
    let mut p = plan();
    p.health.on_latency_breach = LatencyBreach::Hold;
    let d = decide(&p, Some(&running(1, 0)), at(1), &obs, NOW);
    assert!(matches!(d, Decision::Hold { reason } if reason.contains("allowance 100.0")));
}

#[test]
fn ratio_alone_and_no_comparison() {
    let mut p = plan();
    p.health.max_latency_margin_ms = None;
    let mut obs = healthy();
    obs.v1.latency_ms = Some(100.0);
    obs.v2.latency_ms = Some(151.0);
    assert!(matches!(
        decide(&p, Some(&running(1, 0)), at(1), &obs, NOW),
        Decision::RollBack { .. }
    ));
    p.health.max_latency_ratio = None;
    obs.v1.latency_ms = None;
    assert!(matches!(
        decide(&p, Some(&running(1, 0)), at(1), &obs, NOW),
        Decision::Promote { .. }
    ));
}

#[test]
fn expected_weights_per_status() {
    let p = plan();
    assert_eq!(expected_weights(&p, None), Some(Weights::STABLE_ONLY));
    let mut s = running(2, 0);
    assert_eq!(expected_weights(&p, Some(&s)), Some(at(2)));
    s.status = Status::RolledBack;
    assert_eq!(expected_weights(&p, Some(&s)), Some(Weights::STABLE_ONLY));
    s.status = Status::Paused;
    assert_eq!(expected_weights(&p, Some(&s)), None);
}

#[test]
fn status_text_round_trips() {
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
        0u64..2000,
        0.0f64..0.5,
        proptest::option::of(1.0f64..3.0),
        proptest::option::of(0.0f64..200.0),
        1.0f64..3000.0,
        1u64..500,
        any::<bool>(),
    )
        .prop_map(|(steps, bake, err, ratio, margin, ceiling, min, hold)| {
            let mut steps: Vec<u8> = steps.into_iter().collect();
            steps.push(100);
            Plan {
                steps,
                bake_seconds: bake,
                health: HealthRules {
                    max_error_rate: err,
                    max_latency_ratio: ratio,
                    max_latency_margin_ms: margin,
                    max_latency_ms: ceiling,
                    min_requests: min,
                    latency_statistic: "Average".into(),
                    on_latency_breach: if hold {
                        LatencyBreach::Hold
                    } else {
                        LatencyBreach::RollBack
                    },
                },
            }
        })
}

fn arb_tg() -> impl Strategy<Value = TgMetrics> {
    (0u64..5000, 0u64..5000, proptest::option::of(0.0f64..5000.0)).prop_map(
        |(requests, errors, latency_ms)| TgMetrics {
            requests,
            errors_5xx: errors.min(requests),
            latency_ms,
        },
    )
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    (arb_tg(), arb_tg(), 0u32..3).prop_map(|(v1, v2, h)| Observation {
        v1,
        v2,
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
            proptest::option::of((arb_status(), 0..n, 0i64..10_000, 0u64..10)),
            any::<bool>(),
            (0u16..=MAX_WEIGHT, 0u16..=MAX_WEIGHT),
            arb_observation(),
            0i64..20_000,
        )
            .prop_map(|(plan, st, drifted, (d1, d2), obs, now)| {
                let state = st.map(|(status, step, started, version)| CanaryState {
                    status,
                    step,
                    step_started_at: started,
                    version,
                    reason: None,
                });
                let live = match (drifted, expected_weights(&plan, state.as_ref())) {
                    (false, Some(w)) => w,
                    _ => Weights::new(d1, d2).unwrap_or(Weights::STABLE_ONLY),
                };
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
                    prop_assert!(now - s.step_started_at >= plan.bake_seconds as i64);
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
            // Everything else but a rollback writes nothing: the share stays where it is.
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
            prop_assert!(state.is_some_and(|s| s.status == Status::Running));
        }
    }

    #[test]
    fn hold_on_insufficient_data_whatever_the_values(
        (plan, state, _live, mut obs, now) in arb_case(),
        few in 0u64..500,
        errors in 0u64..500,
    ) {
        let state = state.map(|mut s| { s.status = Status::Running; s });
        let live = expected_weights(&plan, state.as_ref()).unwrap();
        obs.v2.requests = few % plan.health.min_requests;
        obs.v2.errors_5xx = errors.min(obs.v2.requests);
        let d = decide(&plan, state.as_ref(), live, &obs, now);
        if state.is_some() {
            prop_assert!(matches!(d, Decision::Hold { .. }), "{:?}", d);
        } else {
            // Starting needs no traffic on V2 (it has none): only healthy targets.
            let ok = !matches!(d, Decision::RollBack { .. } | Decision::Complete);
            prop_assert!(ok);
        }
    }
}

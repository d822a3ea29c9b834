use super::*;
use canary::decision::Counts;
use canary::history::{Judgement, PROMOTION, ROLLBACK};
use proptest::prelude::*;

const ISSUE_EXAMPLE: &str = r#"{"plan": {}, "canary_started_at": 1700000000, "step": 0, "step_started_at": 1700000000,
 "now": 1700000900, "weights": {"stable": 90, "canary": 10},
 "periods": [{"t": 1700000000, "stable": {"requests": 540, "errors": 1}, "canary": {"requests": 60, "errors": 0}}]}"#;

#[test]
fn the_issues_example_promotes_with_its_statistics() {
    // Without the stable version's latency, the step is not promoted: latency would be judged at the ceiling only.
    let out = replay(ISSUE_EXAMPLE).unwrap();
    assert_eq!(out["decision"], "hold", "{out}");
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .contains("latency threshold is not fixed yet"),
        "{out}"
    );
    assert_eq!(out["statistics"]["latency"]["threshold_ms"], 2000.0);
    assert_eq!(out["statistics"]["latency"]["threshold_source"], "ceiling");
    // The stable version's first three minutes calibrate T (4 ms → 104 ms) for the periods after them.
    let calibrated = ISSUE_EXAMPLE.replace(
        r#""weights""#,
        r#""calibration": {"stable_ms": 4.0, "until": 1700000180}, "weights""#,
    );
    let out = replay(&calibrated).unwrap();
    assert_eq!(out["decision"], "promote", "{out}");
    let latency = &out["statistics"]["latency"];
    assert_eq!(latency["threshold_source"], "calibration");
    assert_eq!(latency["threshold_ms"], 104.0);
    assert_eq!(latency["threshold_from"], 1_700_000_180);
    let out = replay(&ISSUE_EXAMPLE.replace(r#""weights""#, r#""baseline_ms": 60.0, "weights""#))
        .unwrap();
    assert_eq!(out["decision"], "promote", "{out}");
    assert_eq!(out["writes"], json!({"stable": 75, "canary": 25}));
    let errors = &out["statistics"]["errors"];
    assert_eq!(errors["canary_requests"], 60);
    assert_eq!(errors["stable_errors"], 1);
    assert!((errors["ln_threshold"].as_f64().unwrap() - (200f64).ln()).abs() < 1e-12);
    assert!(errors["ln_e_relative"].as_f64().unwrap() < 0.0);
    // The stable version's baseline (60 ms): T = max(1.5 × 60, 60 + 100) ms, for every period.
    assert_eq!(out["statistics"]["latency"]["threshold_ms"], 160.0);
    assert_eq!(out["statistics"]["latency"]["threshold_source"], "baseline");
    assert_eq!(out["statistics"]["step_canary_requests"], 60);
    // The same minutes 100 canary requests short of the minimum: a hold that says so.
    let thin = ISSUE_EXAMPLE
        .replace(r#""weights""#, r#""baseline_ms": 60.0, "weights""#)
        .replace(
            r#""plan": {}"#,
            r#""plan": {"health": {"min_step_requests": 100}}"#,
        );
    let out = replay(&thin).unwrap();
    assert_eq!(out["decision"], "hold");
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .contains("insufficient data: 60 canary requests"),
        "{out}"
    );
}

/// The recorded state and the observation a replay input stands for (as the function had them).
fn recorded(input: &ReplayInput) -> (CanaryState, Observation) {
    let state = CanaryState {
        status: input.status,
        step: input.step,
        step_started_at: input.step_started_at,
        bake_started_at: input.bake_started_at.unwrap_or(input.step_started_at),
        bake_skipped: input.bake_skipped,
        canary_started_at: input.canary_started_at,
        version: 9,
        reason: None,
    };
    let observed = Observation {
        periods: input.periods.clone(),
        baseline_ms: input.baseline_ms,
        calibration: input.calibration,
        canary_healthy_targets: 2,
    };
    (state, observed)
}

#[test]
fn a_decision_recorded_by_the_function_replays_from_its_record() {
    let input = ReplayInput::from_json(
        &ISSUE_EXAMPLE.replace(r#""weights""#, r#""baseline_ms": 60.0, "weights""#),
    )
    .unwrap();
    let judged = input.decide();
    let (state, observed) = recorded(&input);
    let judgement = Judgement::new(None, &state, input.weights, &observed, judged.clone());
    let record = Record::new(PROMOTION, input.now, Entry::Judgement(Box::new(judgement)));
    let file = json!({"plan": {}, "record": record.to_json(), "periods": input.periods});
    let out = replay(&file.to_string()).unwrap();
    assert_eq!(out, render(&judged));
    assert_eq!(out["decision"], "promote", "{out}");
    // The series is not in the record: without it, the same record holds for too little data.
    let bare = json!({"plan": {}, "record": record.to_json()});
    assert_eq!(replay(&bare.to_string()).unwrap()["decision"], "hold");
    let hold = Record::new(
        ROLLBACK,
        1,
        Entry::RolledBack(canary::history::RolledBack::default()),
    );
    let err = replay(&json!({"record": hold.to_json()}).to_string()).unwrap_err();
    assert_eq!(
        err,
        "a `roll_back` record is not a judgement: nothing to replay"
    );
}

#[test]
fn a_file_written_before_periods_were_named_still_reads() {
    let legacy = ISSUE_EXAMPLE.replace(r#""periods""#, r#""minutes""#);
    assert_ne!(legacy, ISSUE_EXAMPLE);
    assert_eq!(replay(&legacy).unwrap(), replay(ISSUE_EXAMPLE).unwrap());
    let both = ISSUE_EXAMPLE.replace(r#""periods": ["#, r#""minutes": [], "periods": ["#);
    assert!(replay(&both).unwrap_err().contains("duplicate field"));
}

#[test]
fn every_canary_request_failing_rolls_back() {
    let input = ISSUE_EXAMPLE.replace(
        r#""canary": {"requests": 60, "errors": 0}"#,
        r#""canary": {"requests": 49, "errors": 40, "connection_errors": 9}"#,
    );
    let out = replay(&input).unwrap();
    assert_eq!(out["decision"], "roll_back", "{out}");
    assert_eq!(out["writes"], json!({"stable": 100, "canary": 0}));
    assert_eq!(out["statistics"]["errors"]["canary_errors"], 49);
}

#[test]
fn bad_input_names_the_field() {
    let cases = [
        (
            ISSUE_EXAMPLE.replace(r#""now": 1700000900,"#, ""),
            "missing field `now`",
        ),
        (
            ISSUE_EXAMPLE.replace(r#""requests": 540"#, r#""requests": "many""#),
            "periods[0].stable.requests: invalid type",
        ),
        (
            ISSUE_EXAMPLE.replace(r#""errors": 1}"#, r#""errors": 1, "warnings": 2}"#),
            "periods[0].stable.warnings: unknown field `warnings`",
        ),
        (
            ISSUE_EXAMPLE.replace(
                r#""plan": {}"#,
                r#""plan": {"health": {"errors": {"alpha": 0.9}}}"#,
            ),
            "plan: health.errors.alpha 0.9",
        ),
        (
            ISSUE_EXAMPLE.replace(
                r#""plan": {}"#,
                r#""plan": {"health": {"max_error_rate": 0.05}}"#,
            ),
            "plan.health: health.max_error_rate is no longer read; it was replaced by health.errors",
        ),
        (
            ISSUE_EXAMPLE.replace(r#""step": 0"#, r#""step": 4"#),
            "step 4 is not in the plan's 4 steps",
        ),
        (
            ISSUE_EXAMPLE.replace(
                r#""stable": 90, "canary": 10"#,
                r#""stable": 0, "canary": 0"#,
            ),
            "weights: weights 0/0",
        ),
        (
            ISSUE_EXAMPLE.replace(r#""errors": 0}}"#, r#""errors": 0, "slow": 61}}"#),
            "periods[0].canary.slow 61 exceeds requests 60",
        ),
        (
            ISSUE_EXAMPLE.replace(r#""now": 1700000900"#, r#""now": 1600000000"#),
            "now 1600000000 is before step_started_at",
        ),
        (
            ISSUE_EXAMPLE.replace(r#""plan": {}"#, r#""status": "complete""#),
            "status `complete`",
        ),
        ("[1, 2]".to_string(), "invalid type"),
    ];
    for (input, needle) in cases {
        let err = replay(&input).unwrap_err();
        assert!(err.contains(needle), "`{err}` does not contain `{needle}`");
    }
    let dup = ISSUE_EXAMPLE.replace(
        r#"}}]}"#,
        r#"}}, {"t": 1700000000, "stable": {"requests": 1}}]}"#,
    );
    assert!(
        replay(&dup)
            .unwrap_err()
            .contains("periods[1].t duplicates periods[0].t")
    );
    // Half a minute apart is two overlapping minutes, but two 10 s periods.
    let close = ISSUE_EXAMPLE.replace(
        r#"}}]}"#,
        r#"}}, {"t": 1700000030, "stable": {"requests": 1}}]}"#,
    );
    let err = replay(&close).unwrap_err();
    assert!(
        err.contains("periods[0].t and periods[1].t are less than plan.health.period_seconds 60"),
        "{err}"
    );
    let ten = close.replace(
        r#""plan": {}"#,
        r#""plan": {"max_step_seconds": 2700, "health": {"period_seconds": 10}}"#,
    );
    let out = replay(&ten).unwrap();
    assert_eq!(out["statistics"]["closed_periods"], 2, "{out}");
    assert_eq!(out["statistics"]["period_seconds"], 10, "{out}");
}

fn arb_counts() -> impl Strategy<Value = Counts> {
    (0u64..2000, 0u64..30, 0u64..5, 0u64..30, 0u32..3000).prop_map(
        |(requests, errors, connection_errors, slow, latency)| Counts {
            requests,
            errors,
            connection_errors,
            slow: Some(slow.min(requests)),
            latency_ms: Some(f64::from(latency) / 4.0),
        },
    )
}

prop_compose! {
    fn arb_input()(
        step in 0usize..4,
        periods in proptest::collection::btree_map(0i64..60, (arb_counts(), arb_counts()), 0..40),
        age in 0i64..3600,
        baseline in proptest::option::of(0u32..400),
        paused in any::<bool>(),
    ) -> ReplayInput {
        let start = 1_700_000_040;
        ReplayInput {
            plan: Plan::default(),
            status: if paused { Status::Paused } else { Status::Running },
            canary_started_at: start,
            step,
            step_started_at: start + 60 * step as i64,
            bake_started_at: None,
            bake_skipped: false,
            now: start + 60 * step as i64 + age,
            weights: Weights::for_percent(Plan::default().steps[step]),
            baseline_ms: baseline.map(f64::from),
            calibration: None,
            periods: periods
                .into_iter()
                .map(|(k, (stable, canary))| Period { t: start + 60 * k, stable, canary })
                .collect(),
        }
    }
}

proptest! {
    #[test]
    fn a_decision_round_trips_through_its_replay_file(input in arb_input()) {
        let (state, observed) = recorded(&input);
        let live = decide_with_statistics(&input.plan, Some(&state), input.weights, &observed, input.now);
        let file = serde_json::to_string_pretty(
            &ReplayInput::new(&input.plan, &state, input.weights, &observed, input.now),
        ).unwrap();
        let parsed = ReplayInput::from_json(&file).unwrap();
        prop_assert_eq!(&parsed, &input);
        prop_assert_eq!(render(&parsed.decide()), render(&live));
    }

    #[test]
    fn a_recorded_judgement_replays_to_the_same_decision(input in arb_input()) {
        let (state, observed) = recorded(&input);
        let live = decide_with_statistics(&input.plan, Some(&state), input.weights, &observed, input.now);
        let judgement = Judgement::new(Some("1.2.0".into()), &state, input.weights, &observed, live.clone());
        let written = Record::new(PROMOTION, input.now, Entry::Judgement(Box::new(judgement)));
        // As the table holds it, and as the history reads it back.
        let read = Record::from_json(written.kind(), &written.to_json().to_string()).unwrap();
        prop_assert_eq!(&read, &written);
        prop_assert_eq!(read.statistics(), live.statistics.as_ref());
        let replayed = ReplayInput::from_record(&input.plan, &read, input.periods.clone()).unwrap();
        prop_assert_eq!(replayed.decide(), live);
    }
}

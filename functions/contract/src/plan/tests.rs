use super::*;

#[test]
fn default_plan_is_valid_and_round_trips() {
    let plan = Plan::default();
    plan.validate().unwrap();
    assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
    assert_eq!(plan.steps, vec![10, 25, 50, 100]);
    assert_eq!(plan.health.errors.method, Method::Sequential);
    assert!(plan.health.latency.uses_percentile_rank());
}

#[test]
fn partial_json_takes_defaults() {
    let plan = Plan::from_json(
        r#"{"steps":[20,100],"health":{"latency":{"statistic":"Average"},"errors":{"alpha":0.05}}}"#,
    )
    .unwrap();
    assert_eq!(plan.steps, vec![20, 100]);
    assert_eq!(plan.health.latency.statistic, "Average");
    assert!(!plan.health.latency.uses_percentile_rank());
    assert_eq!(plan.health.errors.alpha, 0.05);
    assert_eq!(plan.health.errors.max_ratio, 1.0);
    assert_eq!(plan.health.min_step_requests, 50);
    assert_eq!(plan.max_step_seconds, 3600);
}

#[test]
fn min_requests_is_read_as_min_step_requests() {
    // A stack deployed with the former name keeps its value.
    let plan = Plan::from_json(r#"{"health":{"min_requests":400}}"#).unwrap();
    assert_eq!(plan.health.min_step_requests, 400);
    let plan = Plan::from_json(r#"{"health":{"min_step_requests":400}}"#).unwrap();
    assert_eq!(plan.health.min_step_requests, 400);
    let both = Plan::from_json(r#"{"health":{"min_requests":1,"min_step_requests":2}}"#);
    assert!(both.unwrap_err().to_string().contains("duplicate field"));
}

#[test]
fn periods_cloudwatch_serves_are_accepted() {
    for period in [10, 20, 30, 60, 120, 300, 3600, 86_400] {
        let json = format!(
            r#"{{"bake_seconds":20,"max_step_seconds":600,"health":{{"period_seconds":{period}}}}}"#
        );
        match Plan::from_json(&json) {
            Ok(plan) => assert_eq!(plan.health.period_seconds, period),
            // A long period only fails the step arithmetic, never the period check.
            Err(e) => assert!(e.contains("no step could finish"), "{period}: {e}"),
        }
    }
    assert_eq!(Plan::default().health.period_seconds, 60);
}

#[test]
fn the_calibration_span_is_a_period_cloudwatch_accepts() {
    let span = |period, periods| {
        let mut h = HealthRules {
            period_seconds: period,
            ..HealthRules::default()
        };
        h.latency.calibration_periods = periods;
        h.calibration_span_seconds()
    };
    assert_eq!(span(60, 3), 180);
    assert_eq!(span(10, 3), 30);
    assert_eq!(span(20, 3), 60);
    // 90 s is no CloudWatch period: four 30 s periods.
    assert_eq!(span(30, 3), 120);
    assert_eq!(span(10, 4), 60);
    assert_eq!(span(120, 1), 120);
}

#[test]
fn old_fields_are_refused_naming_their_replacement() {
    for (old, new) in [
        ("max_error_rate", "health.errors"),
        ("max_latency_ratio", "health.latency.ratio"),
        ("max_latency_margin_ms", "health.latency.margin_ms"),
        ("max_latency_ms", "health.latency.ceiling_ms"),
        ("latency_statistic", "health.latency.statistic"),
        ("on_latency_breach", "health.latency.on_breach"),
    ] {
        let value = if old.contains("statistic") || old.contains("breach") {
            "\"hold\""
        } else {
            "1"
        };
        let err = Plan::from_json(&format!(r#"{{"health":{{"{old}":{value}}}}}"#)).unwrap_err();
        assert!(
            err.contains(&format!("health.{old}")) && err.contains(new),
            "{old}: {err}"
        );
    }
}

#[test]
fn bad_plans_are_refused_naming_the_value() {
    for (json, needle) in [
        (r#"{"steps":[]}"#, "empty"),
        (r#"{"steps":[10,10,100]}"#, "strictly increasing"),
        (r#"{"steps":[10,50]}"#, "end at 100"),
        (r#"{"steps":[0,100]}"#, "step 0"),
        (
            r#"{"health":{"errors":{"alpha":0.5}}}"#,
            "health.errors.alpha 0.5",
        ),
        (
            r#"{"health":{"errors":{"max_ratio":0.5}}}"#,
            "health.errors.max_ratio 0.5",
        ),
        (
            r#"{"health":{"errors":{"floor_rate":0.5}}}"#,
            "health.errors.floor_rate 0.5",
        ),
        (r#"{"health":{"errors":{"method":"magic"}}}"#, "magic"),
        (
            r#"{"health":{"errors":{"method":"threshold"}}}"#,
            "health.errors.method \"threshold\" is no longer a plan's",
        ),
        (
            r#"{"health":{"latency":{"method":"threshold"}}}"#,
            "health.latency.method \"threshold\" is no longer a plan's",
        ),
        (
            r#"{"health":{"latency":{"max_slow_share":0}}}"#,
            "max_slow_share 0",
        ),
        (
            r#"{"health":{"latency":{"max_ratio":0.9}}}"#,
            "health.latency.max_ratio 0.9",
        ),
        (
            r#"{"health":{"latency":{"calibration_periods":0}}}"#,
            "calibration_periods 0",
        ),
        (
            r#"{"health":{"latency":{"calibration_periods":1441}}}"#,
            "is 86460 s",
        ),
        (
            r#"{"health":{"latency":{"ratio":0.5}}}"#,
            "health.latency.ratio 0.5",
        ),
        (r#"{"health":{"latency":{"statistic":"p100"}}}"#, "`p100`"),
        (
            r#"{"health":{"latency":{"baseline_seconds":90}}}"#,
            "baseline_seconds 90",
        ),
        (r#"{"health":{"min_step_requests":0}}"#, "min_step_requests"),
        (r#"{"max_step_seconds":600}"#, "max_step_seconds 600"),
        (
            r#"{"health":{"period_seconds":15}}"#,
            "health.period_seconds 15 is not a CloudWatch metrics period",
        ),
        (r#"{"health":{"period_seconds":5}}"#, "period_seconds 5"),
        (r#"{"health":{"period_seconds":0}}"#, "period_seconds 0"),
        (r#"{"health":{"period_seconds":90}}"#, "period_seconds 90"),
        (r#"{"health":{"period_seconds":-60}}"#, "`-60`"),
        (
            r#"{"health":{"period_seconds":10}}"#,
            "keeps data for 10800 s only",
        ),
        (
            r#"{"bake_seconds":60,"max_step_seconds":100,"health":{"period_seconds":60,"settle_seconds":0}}"#,
            "settle_seconds + health.period_seconds = 120",
        ),
        (r#"{"stepz":[10]}"#, "stepz"),
        (r#"{"health":{"errors":{"ratio":2}}}"#, "ratio"),
        ("nope", "not a plan"),
    ] {
        let err = Plan::from_json(json).unwrap_err();
        assert!(err.contains(needle), "{json}: {err}");
    }
}

#[test]
fn the_signal_is_the_albs_unless_the_plan_names_the_targets() {
    let plan = Plan::from_json(
        r#"{"health":{"signal":"targets","period_seconds":10},"max_step_seconds":2700}"#,
    )
    .unwrap();
    assert_eq!(plan.health.signal, Signal::Targets);
    assert_eq!(plan.health.signal.namespace(), "AlbCanary/Targets");
    assert_eq!(Plan::default().health.signal, Signal::Alb);
    // The default is not written out: plans and the template's default stay as they were.
    assert!(
        !Plan::default().to_json().contains("signal"),
        "{}",
        Plan::default().to_json()
    );
    assert!(
        plan.to_json().contains(r#""signal":"targets""#),
        "{}",
        plan.to_json()
    );
    assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
    let err = Plan::from_json(r#"{"health":{"signal":"agent"}}"#).unwrap_err();
    assert!(err.contains("unknown variant `agent`"), "{err}");
}

#[test]
fn the_old_threshold_rules_rate_still_reads_and_means_nothing() {
    // Plans written while the threshold rule was a plan's carried its rate (the default did).
    let old = Plan::from_json(
        r#"{"health":{"errors":{"method":"sequential","alpha":0.01,"max_rate":0.05}}}"#,
    )
    .unwrap();
    assert_eq!(old, Plan::default());
    assert!(!old.to_json().contains("max_rate"), "{}", old.to_json());
}

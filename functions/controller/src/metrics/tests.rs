//! The adapter's requests and parsing, without the emulator (which computes no percentiles).

use super::*;
use contract::{Plan, env};
use judge::ThresholdSource;

/// T from a baseline: one rank per group, every period.
fn from_baseline(ms: f64) -> LatencyThreshold {
    LatencyThreshold {
        source: ThresholdSource::Baseline,
        reference_ms: Some(ms / 2.0),
        ms,
        from: None,
    }
}

fn config(plan: Plan) -> Config {
    Config::from_lookup(|name| {
        Some(match name {
            env::LISTENER_ARN => {
                "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/a/1/2".to_string()
            }
            env::STABLE_TARGET_GROUP_ARN => {
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v1/11".into()
            }
            env::CANARY_TARGET_GROUP_ARN => {
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v2/22".into()
            }
            env::LOAD_BALANCER_DIMENSION => "app/a/1".into(),
            env::TOPIC_ARN => "arn:aws:sns:us-east-1:1:t".into(),
            env::PLAN => plan.to_json(),
            env::CANARY_FLEET => "canary-fleet".into(),
            env::TARGET_SIGNAL => env::TARGET_SIGNAL_ENABLED.into(),
            env::HISTORY_DAYS => return None,
            _ => "x".into(),
        })
    })
    .unwrap()
}

fn stat_of(queries: &[MetricDataQuery], id: &str) -> Option<(String, String, String)> {
    let q = queries.iter().find(|q| q.id() == Some(id))?;
    let ms = q.metric_stat()?;
    let metric = ms.metric()?;
    let tg = metric
        .dimensions()
        .iter()
        .find(|d| d.name() == Some("TargetGroup"))?
        .value()?
        .to_string();
    Some((
        metric.metric_name()?.to_string(),
        ms.stat()?.to_string(),
        tg,
    ))
}

#[test]
fn percentile_rank_statistic_is_in_seconds() {
    assert_eq!(percentile_rank_stat(156.0), "PR(:0.156)");
    assert_eq!(percentile_rank_stat(2000.0), "PR(:2)");
    assert_eq!(percentile_rank_stat(164.55), "PR(:0.16455)");
}

#[test]
fn production_queries_count_errors_connections_and_both_ranks() {
    let queries = series_queries(&config(Plan::default()), &from_baseline(164.55)).unwrap();
    assert_eq!(queries.len(), 10);
    assert_eq!(
        stat_of(&queries, "stablerank"),
        Some((
            "TargetResponseTime".into(),
            "PR(:0.16455)".into(),
            "targetgroup/v1/11".into()
        ))
    );
    assert_eq!(
        stat_of(&queries, "canaryrank"),
        Some((
            "TargetResponseTime".into(),
            "PR(:0.16455)".into(),
            "targetgroup/v2/22".into()
        ))
    );
    assert_eq!(
        stat_of(&queries, "stableconn"),
        Some((
            "TargetConnectionErrorCount".into(),
            "Sum".into(),
            "targetgroup/v1/11".into()
        ))
    );
    assert_eq!(
        stat_of(&queries, "canaryerr").map(|s| s.1),
        Some("Sum".to_string())
    );
    assert_eq!(
        stat_of(&queries, "stablelat").map(|s| s.1),
        Some("p99".to_string())
    );
    assert!(
        queries
            .iter()
            .all(|q| q.metric_stat().unwrap().period() == Some(60))
    );
}

#[test]
fn the_plans_period_is_every_querys_period() {
    let mut plan = Plan::default();
    plan.health.period_seconds = 10;
    plan.max_step_seconds = 2700;
    plan.validate().unwrap();
    let queries = series_queries(&config(plan), &from_baseline(164.55)).unwrap();
    assert_eq!(queries.len(), 10);
    assert!(
        queries
            .iter()
            .all(|q| q.metric_stat().unwrap().period() == Some(10))
    );
}

#[test]
fn average_fallback_asks_no_percentile_rank() {
    let mut plan = Plan::default();
    plan.health.latency.statistic = "Average".into();
    let queries = series_queries(&config(plan), &from_baseline(156.0)).unwrap();
    assert_eq!(queries.len(), 8);
    assert!(stat_of(&queries, "canaryrank").is_none());
    assert!(stat_of(&queries, "stablerank").is_none());
    assert_eq!(
        stat_of(&queries, "canarylat").map(|s| s.1),
        Some("Average".to_string())
    );
}

#[test]
fn minutes_are_assembled_from_the_series() {
    let series: Series = HashMap::from([
        ("stablereq".to_string(), vec![(60, 900.0), (0, 540.0)]),
        ("stableerr".to_string(), vec![(0, 1.0)]),
        ("canaryreq".to_string(), vec![(0, 60.0), (60, 100.0)]),
        ("canaryconn".to_string(), vec![(60, 3.0)]),
        ("canarylat".to_string(), vec![(60, 0.07)]),
        // 98.5 % of 100 requests at most T: 1.5 → 2 slow; 100 % of 60: none.
        ("canaryrank".to_string(), vec![(60, 98.5), (0, 100.0)]),
    ]);
    let periods = assemble(&series, None);
    assert_eq!(periods.len(), 2);
    assert_eq!(periods[0].t, 0);
    assert_eq!(
        periods[0].stable,
        Counts {
            requests: 540,
            errors: 1,
            ..Counts::default()
        }
    );
    assert_eq!(periods[0].canary.slow, Some(0));
    let canary = periods[1].canary;
    assert_eq!(
        (canary.requests, canary.connection_errors, canary.slow),
        (100, 3, Some(2))
    );
    assert!((canary.latency_ms.unwrap() - 70.0).abs() < 1e-9);
    assert_eq!(periods[1].stable.requests, 900);
    // ALB publishes no zero count: a period with requests and no 5XX datapoint is traffic
    // without errors, never a period without traffic.
    assert_eq!((canary.requests, canary.errors), (100, 0));
    assert_eq!(
        (periods[1].stable.requests, periods[1].stable.errors),
        (900, 0)
    );
    assert!(assemble(&HashMap::new(), None).is_empty());
}

#[test]
fn the_targets_signal_is_read_with_the_same_names_in_its_namespace() {
    let namespaces = |plan: Plan| -> Vec<String> {
        series_queries(&config(plan), &from_baseline(150.0))
            .unwrap()
            .iter()
            .map(|q| {
                let metric = q.metric_stat().unwrap().metric().unwrap();
                format!(
                    "{} {}",
                    metric.namespace().unwrap(),
                    metric.metric_name().unwrap()
                )
            })
            .collect()
    };
    let alb = namespaces(Plan::default());
    let mut plan = Plan::default();
    plan.health.signal = contract::Signal::Targets;
    plan.health.period_seconds = 10;
    plan.max_step_seconds = 2700;
    plan.validate().unwrap();
    let targets = namespaces(plan);
    assert_eq!(alb.len(), targets.len());
    for (a, t) in alb.iter().zip(&targets) {
        assert!(a.starts_with("AWS/ApplicationELB "), "{a}");
        assert_eq!(
            t.strip_prefix("AlbCanary/Targets "),
            a.strip_prefix("AWS/ApplicationELB "),
            "{t}"
        );
    }
}

#[test]
fn calibrated_periods_rank_at_t_and_earlier_ones_at_the_ceiling() {
    let threshold = LatencyThreshold {
        source: ThresholdSource::Calibration,
        reference_ms: Some(4.0),
        ms: 104.0,
        from: Some(60),
    };
    let queries = series_queries(&config(Plan::default()), &threshold).unwrap();
    assert_eq!(queries.len(), 12);
    assert_eq!(
        stat_of(&queries, "stablerankc").map(|s| s.1),
        Some("PR(:2)".to_string())
    );
    assert_eq!(
        stat_of(&queries, "canaryrank").map(|s| s.1),
        Some("PR(:0.104)".to_string())
    );
    let series: Series = HashMap::from([
        ("stablereq".to_string(), vec![(0, 100.0), (60, 100.0)]),
        ("canaryreq".to_string(), vec![(0, 10.0), (60, 10.0)]),
        // Period 0 is before the calibration ended: its counts come from the ceiling's rank.
        ("stablerank".to_string(), vec![(0, 50.0), (60, 99.0)]),
        ("stablerankc".to_string(), vec![(0, 100.0), (60, 100.0)]),
        ("canaryrank".to_string(), vec![(0, 0.0), (60, 10.0)]),
        ("canaryrankc".to_string(), vec![(0, 90.0), (60, 100.0)]),
    ]);
    let periods = assemble(&series, threshold.from);
    assert_eq!(
        (periods[0].stable.slow, periods[0].canary.slow),
        (Some(0), Some(1))
    );
    assert_eq!(
        (periods[1].stable.slow, periods[1].canary.slow),
        (Some(1), Some(9))
    );
}

#[test]
fn calibration_spans_double_while_closed_and_within_a_day() {
    assert_eq!(calibration_lengths(180, 0, 179), Vec::<i64>::new());
    assert_eq!(calibration_lengths(180, 0, 180), [180]);
    assert_eq!(calibration_lengths(180, 0, 1000), [180, 360, 720]);
    assert_eq!(calibration_lengths(30, 100, 400), [30, 60, 120, 240]);
    assert_eq!(calibration_lengths(86_400, 0, 10 * 86_400), [86_400]);
}

#[test]
fn a_reference_needs_its_requests() {
    let series: Series = HashMap::from([
        ("stablecal0".to_string(), vec![(0, 0.2)]),
        ("ncal0".to_string(), vec![(0, 54.0)]),
        ("stablecal1".to_string(), vec![(0, 0.065)]),
        ("ncal1".to_string(), vec![(0, 250.0)]),
        ("stablecal2".to_string(), vec![(0, f64::NAN)]),
        ("ncal2".to_string(), vec![(0, 900.0)]),
    ]);
    // 54 requests are too few for a p99 (their slowest): the 250 of the doubled span are not.
    assert_eq!(reference_of(&series, "cal0", 0, 200), None);
    assert_eq!(reference_of(&series, "cal0", 0, 50), Some(200.0));
    assert_eq!(reference_of(&series, "cal1", 0, 200), Some(65.0));
    assert_eq!(reference_of(&series, "cal1", 60, 200), None);
    assert_eq!(reference_of(&series, "cal2", 0, 200), None);
    assert_eq!(reference_of(&series, "cal3", 0, 0), None);
}

#[test]
fn slow_counts_are_clamped() {
    assert_eq!(slow_from_rank(100, 101.0), 0);
    assert_eq!(slow_from_rank(100, -5.0), 100);
    assert_eq!(slow_from_rank(0, 50.0), 0);
}

#[test]
fn every_query_the_adapter_asks_for_is_read_back_into_its_group() {
    // The ids the builder writes are the only names `assemble` gets back from CloudWatch: each
    // series lands in its own group's counts, none is dropped.
    let queries = series_queries(&config(Plan::default()), &from_baseline(150.0)).unwrap();
    let value = |id: &str| {
        if id.ends_with("rank") {
            90.0
        } else if id.starts_with("stable") {
            100.0
        } else {
            10.0
        }
    };
    let series: Series = queries
        .iter()
        .filter_map(|q| q.id())
        .map(|id| (id.to_string(), vec![(60, value(id))]))
        .collect();
    assert!(series.len() >= 8, "{:?}", series.keys());
    let periods = assemble(&series, None);
    assert_eq!(periods.len(), 1);
    let (stable, canary) = (periods[0].stable, periods[0].canary);
    assert_eq!((stable.requests, canary.requests), (100, 10));
    assert_eq!((stable.errors, canary.errors), (100, 10));
    assert_eq!(
        (stable.connection_errors, canary.connection_errors),
        (100, 10)
    );
    assert_eq!((stable.slow, canary.slow), (Some(10), Some(1)));
}

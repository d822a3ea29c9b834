//! The emulator's CloudWatch extended statistics (`emulator/`, run by [`Moto`]) against AWS's
//! definitions ("CloudWatch statistics definitions", GetMetricStatistics, PutMetricData), through
//! the real `aws-sdk-cloudwatch` client.
//!
//! Every expected value is worked out by hand in a comment from those definitions: `pNN` is the
//! nearest rank (the smallest value put with at least NN % of the values at or below it),
//! `PR(n:m)` the percentage of values v with n < v <= m, `TM`/`TC`/`TS` the mean / count / sum of
//! the values kept, a percentage bound keeping that fraction of the sorted values.

use alb_canary_tests::Moto;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, ScanBy, StatisticSet,
};
use aws_smithy_types::DateTime;

/// 2026-01-01T00:00:00Z; the queries' StartTime, where the emulator's periods start.
const T0: i64 = 1_767_225_600;
const NAMESPACE: &str = "AWS/ApplicationELB";
const METRIC: &str = "TargetResponseTime";

fn dimensions() -> Vec<Dimension> {
    [
        ("LoadBalancer", "app/lb/1"),
        ("TargetGroup", "targetgroup/v2/2"),
    ]
    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
    .to_vec()
}

/// A datum of the latency metric in minute `minute` after [`T0`].
fn datum(minute: i64) -> aws_sdk_cloudwatch::types::builders::MetricDatumBuilder {
    MetricDatum::builder()
        .metric_name(METRIC)
        .set_dimensions(Some(dimensions()))
        .timestamp(DateTime::from_secs(T0 + minute * 60))
}

/// Per-request latencies of one minute, as the judge's data should be put: each distinct value
/// once, with how many requests had it.
fn values(minute: i64, values: &[f64], counts: &[f64]) -> MetricDatum {
    datum(minute)
        .set_values(Some(values.to_vec()))
        .set_counts(Some(counts.to_vec()))
        .build()
}

fn single(minute: i64, value: f64) -> MetricDatum {
    datum(minute).value(value).build()
}

fn statistic_set(minute: i64, count: f64, sum: f64, min: f64, max: f64) -> MetricDatum {
    let set = StatisticSet::builder()
        .sample_count(count)
        .sum(sum)
        .minimum(min)
        .maximum(max)
        .build();
    datum(minute).statistic_values(set).build()
}

async fn client(moto: &Moto) -> Client {
    Client::new(&moto.sdk_config().await)
}

async fn put(cw: &Client, data: Vec<MetricDatum>) {
    cw.put_metric_data()
        .namespace(NAMESPACE)
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("PutMetricData");
}

fn query(stat: &str) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(NAMESPACE)
        .metric_name(METRIC)
        .set_dimensions(Some(dimensions()))
        .build();
    MetricDataQuery::builder()
        .id("q")
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat(stat)
                .build(),
        )
        .build()
}

/// GetMetricData of `stat` over `minutes` one-minute periods from [`T0`]: (minute, value) pairs.
async fn stat(cw: &Client, stat: &str, minutes: i64) -> Vec<(i64, f64)> {
    let out = cw
        .get_metric_data()
        .start_time(DateTime::from_secs(T0))
        .end_time(DateTime::from_secs(T0 + minutes * 60))
        .scan_by(ScanBy::TimestampAscending)
        .metric_data_queries(query(stat))
        .send()
        .await
        .unwrap_or_else(|err| panic!("GetMetricData {stat}: {err:?}"));
    let result = &out.metric_data_results()[0];
    assert_eq!(result.timestamps().len(), result.values().len());
    result
        .timestamps()
        .iter()
        .map(|t| (t.secs() - T0) / 60)
        .zip(result.values().iter().copied())
        .collect()
}

/// Asserts that each (statistic, expected per-minute values) holds, to 1e-9.
async fn expect(cw: &Client, minutes: i64, cases: &[(&str, &[(i64, f64)])]) {
    for (name, expected) in cases {
        let got = stat(cw, name, minutes).await;
        let same = got.len() == expected.len()
            && got
                .iter()
                .zip(expected.iter())
                .all(|(g, e)| g.0 == e.0 && (g.1 - e.1).abs() < 1e-9);
        assert!(same, "{name}: got {got:?}, expected {expected:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_and_counts_weigh_each_value_by_its_count() {
    let moto = Moto::start();
    let cw = client(&moto).await;
    // Minute 0: 100 requests: 50 × 0.1 s, 30 × 0.2, 10 × 0.3, 9 × 0.5, 1 × 2.0.
    // Cumulative counts at or below each value: 50, 80, 90, 99, 100.
    // Minute 1: one request (0.25 s). Minute 2: nothing. Minute 3: 0.4 s and 0.6 s.
    put(
        &cw,
        vec![
            values(0, &[0.1, 0.2, 0.3, 0.5, 2.0], &[50.0, 30.0, 10.0, 9.0, 1.0]),
            single(1, 0.25),
            values(3, &[0.6, 0.4], &[1.0, 1.0]),
        ],
    )
    .await;
    expect(
        &cw,
        4,
        &[
            // moto's own statistics still see each count as that many values.
            ("SampleCount", &[(0, 100.0), (1, 1.0), (3, 2.0)]),
            // 50 of 100 are <= 0.1: p50 is 0.1; p51 needs 51, first reached at 0.2.
            // One value: every percentile is it. Two values: p50 needs 1 (0.4), p51 needs 2.
            ("p50", &[(0, 0.1), (1, 0.25), (3, 0.4)]),
            ("p51", &[(0, 0.2), (1, 0.25), (3, 0.6)]),
            // 90 at or below 0.3; 90.5 needs the next value, 0.5.
            ("p90", &[(0, 0.3), (1, 0.25), (3, 0.6)]),
            ("p90.5", &[(0, 0.5), (1, 0.25), (3, 0.6)]),
            // 99 at or below 0.5; p99.9 needs 99.9, only the last value (2.0) reaches it.
            ("p99", &[(0, 0.5), (1, 0.25), (3, 0.6)]),
            ("p99.9", &[(0, 2.0), (1, 0.25), (3, 0.6)]),
            ("p0", &[(0, 0.1), (1, 0.25), (3, 0.4)]),
            ("p100", &[(0, 2.0), (1, 0.25), (3, 0.6)]),
            // PR(:T) counts a value exactly T as at most T: 90 of 100 at or below 0.3.
            ("PR(:0.3)", &[(0, 90.0), (1, 100.0), (3, 0.0)]),
            ("PR(:0.29)", &[(0, 80.0), (1, 100.0), (3, 0.0)]),
            // The lower bound is exclusive: 0.1 < v <= 0.3 leaves 30 + 10; 0.25 is inside.
            ("PR(0.1:0.3)", &[(0, 40.0), (1, 100.0), (3, 0.0)]),
            // v > 0.3: 9 + 1 of 100; 0.25 is not above 0.3; both 0.4 and 0.6 are.
            ("PR(0.3:)", &[(0, 10.0), (1, 0.0), (3, 100.0)]),
            ("PR(:0.25)", &[(0, 80.0), (1, 100.0), (3, 0.0)]),
            ("PR(:0.5)", &[(0, 99.0), (1, 100.0), (3, 50.0)]),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn single_values_give_trimmed_statistics_too() {
    let moto = Moto::start();
    let cw = client(&moto).await;
    // Minute 0: the ten values 1, 2, ..., 10, each put on its own (Value).
    put(&cw, (1..=10).map(|v| single(0, f64::from(v))).collect()).await;
    expect(
        &cw,
        1,
        &[
            ("Sum", &[(0, 55.0)]),
            // p50: 5 of 10 at or below 5. p95: 9.5 needed, first reached at 10. p10: 1.
            ("p50", &[(0, 5.0)]),
            ("p95", &[(0, 10.0)]),
            ("p10", &[(0, 1.0)]),
            // 3 < v <= 7: 4, 5, 6, 7.
            ("PR(3:7)", &[(0, 40.0)]),
            ("PR(:5)", &[(0, 50.0)]),
            // tm90 = TM(:90%): the highest 10 % (the value 10) dropped: mean(1..9) = 45 / 9.
            ("tm90", &[(0, 5.0)]),
            ("tc90", &[(0, 9.0)]),
            ("ts90", &[(0, 45.0)]),
            // TM(3:7) keeps 3 < v <= 7 (as PR): (4 + 5 + 6 + 7) / 4.
            ("TM(3:7)", &[(0, 5.5)]),
            ("TC(3:7)", &[(0, 4.0)]),
            ("TS(:5)", &[(0, 15.0)]),
            // IQM = TM(25%:75%): positions 2.5 to 7.5 of 10: half of 3, then 4, 5, 6, 7, half
            // of 8: (1.5 + 4 + 5 + 6 + 7 + 4) / 5 = 27.5 / 5.
            ("IQM", &[(0, 5.5)]),
            ("TC(25%:75%)", &[(0, 5.0)]),
            // TM(10%:) drops the lowest value: mean(2..10) = 54 / 9.
            ("TM(10%:)", &[(0, 6.0)]),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statistic_sets_give_percentiles_only_when_their_values_are_all_equal() {
    let moto = Moto::start();
    let cw = client(&moto).await;
    put(
        &cw,
        vec![
            // Minute 0: three requests of 0.4 s as a set (Min == Max), one of 0.1 s on its own:
            // 0.1 once, 0.4 three times.
            statistic_set(0, 3.0, 1.2, 0.4, 0.4),
            single(0, 0.1),
            // Minute 1: five requests between 0.1 and 0.9 s: their values are unknown.
            statistic_set(1, 5.0, 2.0, 0.1, 0.9),
            // Minute 2: a set of one request (SampleCount 1).
            statistic_set(2, 1.0, 0.7, 0.7, 0.7),
        ],
    )
    .await;
    expect(
        &cw,
        3,
        &[
            // moto's own statistics cover every minute.
            ("Sum", &[(0, 1.3), (1, 2.0), (2, 0.7)]),
            // p25 needs 1 of 4 (0.1); p50 needs 2, reached at 0.4. Minute 1 has no percentile.
            ("p25", &[(0, 0.1), (2, 0.7)]),
            ("p50", &[(0, 0.4), (2, 0.7)]),
            ("p99", &[(0, 0.4), (2, 0.7)]),
            ("PR(:0.1)", &[(0, 25.0), (2, 0.0)]),
            ("PR(:0.7)", &[(0, 100.0), (2, 100.0)]),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_negative_value_leaves_its_period_without_extended_statistics() {
    let moto = Moto::start();
    let cw = client(&moto).await;
    put(
        &cw,
        vec![values(0, &[-1.0, 2.0], &[1.0, 1.0]), single(1, 3.0)],
    )
    .await;
    expect(
        &cw,
        2,
        &[
            ("Sum", &[(0, 1.0), (1, 3.0)]),
            ("p50", &[(1, 3.0)]),
            ("PR(:2)", &[(1, 0.0)]),
            ("tm90", &[(1, 3.0)]),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_metric_statistics_answers_extended_statistics() {
    let moto = Moto::start();
    let cw = client(&moto).await;
    put(
        &cw,
        vec![
            values(0, &[0.1, 0.2, 0.3, 0.5, 2.0], &[50.0, 30.0, 10.0, 9.0, 1.0]),
            single(2, 0.25),
            // A set of unknown values: no percentile, so no datapoint when only percentiles are
            // asked for.
            statistic_set(4, 5.0, 2.0, 0.1, 0.9),
        ],
    )
    .await;
    let request = || {
        cw.get_metric_statistics()
            .namespace(NAMESPACE)
            .metric_name(METRIC)
            .set_dimensions(Some(dimensions()))
            .start_time(DateTime::from_secs(T0))
            .end_time(DateTime::from_secs(T0 + 6 * 60))
            .period(60)
    };
    let out = request()
        .extended_statistics("p50")
        .extended_statistics("p99")
        .extended_statistics("p99.9")
        .send()
        .await
        .expect("GetMetricStatistics");
    let mut points: Vec<(i64, Vec<(String, f64)>)> = out
        .datapoints()
        .iter()
        .map(|point| {
            let minute = (point.timestamp().expect("a timestamp").secs() - T0) / 60;
            let mut stats: Vec<(String, f64)> = point
                .extended_statistics()
                .map(|map| map.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default();
            stats.sort_by(|a, b| a.0.cmp(&b.0));
            (minute, stats)
        })
        .collect();
    points.sort_by_key(|point| point.0);
    let owned = |stats: &[(&str, f64)]| -> Vec<(String, f64)> {
        stats.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    // Same values as GetMetricData's (see the first test).
    assert_eq!(
        points,
        vec![
            (0, owned(&[("p50", 0.1), ("p99", 0.5), ("p99.9", 2.0)])),
            (2, owned(&[("p50", 0.25), ("p99", 0.25), ("p99.9", 0.25)])),
        ]
    );

    // ExtendedStatistics takes percentiles only, as the API defines it.
    let err = request()
        .extended_statistics("PR(:0.3)")
        .send()
        .await
        .expect_err("PR is not an ExtendedStatistics value");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(400), "{err:?}");
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsupported_statistic_is_a_400_that_names_it() {
    let moto = Moto::start();
    let cw = client(&moto).await;
    put(&cw, vec![single(0, 0.2)]).await;
    // The same request with a supported statistic succeeds: the statistic is what fails.
    assert_eq!(stat(&cw, "p99", 1).await, vec![(0, 0.2)]);
    for unsupported in [
        "WM(10%:90%)",
        "wm90",
        "p99.999",
        "p101",
        "P99",
        "sum",
        "PR(10%:)",
        "PR(:)",
        "TM(5:1)",
        "PR(0.3:0.1)",
    ] {
        let err = cw
            .get_metric_data()
            .start_time(DateTime::from_secs(T0))
            .end_time(DateTime::from_secs(T0 + 60))
            .metric_data_queries(query(unsupported))
            .send()
            .await
            .expect_err(unsupported);
        let status = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(400), "{unsupported}: {err:?}");
        assert_eq!(err.code(), Some("InvalidParameterValue"), "{unsupported}");
        let message = err.message().unwrap_or_default();
        assert!(
            message.contains(unsupported) && message.contains("MetricStat.Stat"),
            "{unsupported}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_namespace_keeps_its_own_data_under_the_same_name_and_dimensions() {
    // The targets' signal uses the ALB's metric names and dimensions in a namespace of its own:
    // a query of one must never see the other's (moto alone mixed them once dimensions were given).
    let moto = tokio::task::block_in_place(Moto::start);
    let cw = client(&moto).await;
    put(&cw, vec![single(0, 0.5)]).await;
    cw.put_metric_data()
        .namespace(contract::target_metric::NAMESPACE)
        .metric_data(single(0, 0.1))
        .send()
        .await
        .expect("PutMetricData");
    let in_namespace = |id: &str, namespace: &str| {
        let mut q = query("Maximum");
        q.id = Some(id.to_owned());
        let stat = q.metric_stat.as_mut().unwrap();
        stat.metric.as_mut().unwrap().namespace = Some(namespace.to_owned());
        q
    };
    // Both in one request, then each alone.
    let both = cw
        .get_metric_data()
        .start_time(DateTime::from_secs(T0))
        .end_time(DateTime::from_secs(T0 + 60))
        .metric_data_queries(in_namespace("alb", NAMESPACE))
        .metric_data_queries(in_namespace("targets", contract::target_metric::NAMESPACE))
        .send()
        .await
        .expect("GetMetricData");
    let values = |id: &str| -> Vec<f64> {
        both.metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .map(|r| r.values().to_vec())
            .unwrap_or_default()
    };
    assert_eq!(values("alb"), [0.5]);
    assert_eq!(values("targets"), [0.1]);
    expect(&cw, 1, &[("Maximum", &[(0, 0.5)])]).await;
}

//! The CloudWatch adapter: both target groups' ALB metrics for the window since the step began.
//!
//! Rates are computed here from raw sums (the emulator does no metric math), and the latency
//! statistic is the plan's (production "p99"; the emulator computes no percentiles, tests use "Average").

use crate::config::Config;
use crate::decision::TgMetrics;
use crate::error::Error;
use crate::listener::target_group_dimension;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use contract::alb_metric;
use std::collections::HashMap;

/// ALB publishes per-minute datapoints.
const PERIOD_SECS: i32 = 60;

/// Reads V1's and V2's metrics for `[start, end)` (epoch seconds).
///
/// Latency uses the plan's statistic (p99 in production); where that statistic has no datapoint
/// although the group served requests, the Average of the same minutes stands in.
pub async fn read_window(
    cloudwatch: &Client,
    config: &Config,
    start: i64,
    end: i64,
) -> Result<(TgMetrics, TgMetrics), Error> {
    let stat = config.plan.health.latency_statistic.as_str();
    let mut dimensions = Vec::new();
    for (id, arn) in [("v1", &config.stable_tg_arn), ("v2", &config.canary_tg_arn)] {
        let tg = target_group_dimension(arn).ok_or_else(|| Error::Config {
            name: contract::env::STABLE_TARGET_GROUP_ARN,
            problem: format!("`{arn}` has no targetgroup/<name>/<id> part"),
        })?;
        dimensions.push((id, tg));
    }
    let mut queries = Vec::new();
    for (id, tg) in &dimensions {
        for (suffix, name, statistic) in [
            ("req", alb_metric::REQUEST_COUNT, "Sum"),
            ("err", alb_metric::TARGET_5XX, "Sum"),
            ("lat", alb_metric::RESPONSE_TIME, stat),
        ] {
            queries.push(query(
                &format!("{id}{suffix}"),
                name,
                statistic,
                &config.load_balancer,
                tg,
            ));
        }
    }
    // Never ask for an empty or inverted window: CloudWatch rejects it.
    let end = end.max(start + i64::from(PERIOD_SECS));
    let mut series = fetch(cloudwatch, queries, start, end).await?;
    let mut fallback = Vec::new();
    if !stat.eq_ignore_ascii_case("average") {
        for (id, tg) in &dimensions {
            if needs_average(&series, id) {
                fallback.push(query(
                    &format!("{id}avg"),
                    alb_metric::RESPONSE_TIME,
                    "Average",
                    &config.load_balancer,
                    tg,
                ));
            }
        }
    }
    if !fallback.is_empty() {
        series.extend(fetch(cloudwatch, fallback, start, end).await?);
    }
    Ok((combine(&series, "v1", stat), combine(&series, "v2", stat)))
}

type Series = HashMap<String, Vec<(i64, f64)>>;

fn take(series: &Series, id: &str) -> Vec<(i64, f64)> {
    series.get(id).cloned().unwrap_or_default()
}

/// Requests were served but the statistic has no datapoint.
fn needs_average(series: &Series, group: &str) -> bool {
    take(series, &format!("{group}lat")).is_empty()
        && !take(series, &format!("{group}req")).is_empty()
}

/// One group's window from the fetched series (`<group>req|err|lat`, and `<group>avg` as fallback).
fn combine(series: &Series, group: &str, stat: &str) -> TgMetrics {
    let requests = take(series, &format!("{group}req"));
    let errors = take(series, &format!("{group}err"));
    match take(series, &format!("{group}lat")) {
        lat if lat.is_empty() => aggregate(
            &requests,
            &errors,
            &take(series, &format!("{group}avg")),
            "Average",
        ),
        lat => aggregate(&requests, &errors, &lat, stat),
    }
}

/// One `GetMetricData` (all pages): datapoints by query id.
async fn fetch(
    cloudwatch: &Client,
    queries: Vec<MetricDataQuery>,
    start: i64,
    end: i64,
) -> Result<Series, Error> {
    let mut series: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
    let mut next_token = None;
    loop {
        let out = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .set_next_token(next_token)
            .send()
            .await
            .map_err(Error::aws("GetMetricData"))?;
        for result in out.metric_data_results() {
            let points = series
                .entry(result.id().unwrap_or_default().to_string())
                .or_default();
            points.extend(
                result
                    .timestamps()
                    .iter()
                    .map(|t| t.secs())
                    .zip(result.values().iter().copied()),
            );
        }
        next_token = out.next_token().map(str::to_string);
        if next_token.is_none() {
            return Ok(series);
        }
    }
}

fn query(
    id: &str,
    name: &str,
    stat: &str,
    load_balancer: &str,
    target_group: &str,
) -> MetricDataQuery {
    let dimension = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let metric_stat = MetricStat::builder()
        .metric(
            Metric::builder()
                .namespace(alb_metric::NAMESPACE)
                .metric_name(name)
                .dimensions(dimension("LoadBalancer", load_balancer))
                .dimensions(dimension("TargetGroup", target_group))
                .build(),
        )
        .period(PERIOD_SECS)
        .stat(stat);
    // No unit filter: CloudWatch would drop datapoints whose unit differs from the one asked for.
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(metric_stat.build())
        .return_data(true)
        .build()
}

/// Folds per-minute datapoints into one window. A minute without a datapoint had no requests.
/// Latency: with "Average", the request-weighted mean of the minutes; with any other statistic
/// (a percentile), the worst minute, since percentiles of minutes cannot be merged exactly.
pub fn aggregate(
    requests: &[(i64, f64)],
    errors: &[(i64, f64)],
    latency_secs: &[(i64, f64)],
    stat: &str,
) -> TgMetrics {
    let sum =
        |points: &[(i64, f64)]| points.iter().map(|(_, v)| v.max(0.0)).sum::<f64>().round() as u64;
    let latency_ms = if latency_secs.is_empty() {
        None
    } else if stat.eq_ignore_ascii_case("average") {
        let per_minute: HashMap<i64, f64> = requests.iter().copied().collect();
        let (mut weighted, mut weight) = (0.0, 0.0);
        for (t, v) in latency_secs {
            let w = per_minute
                .get(t)
                .copied()
                .unwrap_or(1.0)
                .max(f64::MIN_POSITIVE);
            weighted += v * w;
            weight += w;
        }
        Some(1000.0 * weighted / weight)
    } else {
        latency_secs
            .iter()
            .map(|(_, v)| *v)
            .reduce(f64::max)
            .map(|v| v * 1000.0)
    };
    TgMetrics {
        requests: sum(requests),
        errors_5xx: sum(errors),
        latency_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_weighted_average() {
        let m = aggregate(
            &[(0, 100.0), (60, 300.0)],
            &[(60, 3.0)],
            &[(0, 0.010), (60, 0.030)],
            "Average",
        );
        assert_eq!(m.requests, 400);
        assert_eq!(m.errors_5xx, 3);
        assert!((m.latency_ms.unwrap() - 25.0).abs() < 1e-9);
    }

    #[test]
    fn average_stands_in_where_the_percentile_has_no_datapoint() {
        let series: Series = HashMap::from([
            ("v2req".to_string(), vec![(0, 100.0)]),
            ("v2avg".to_string(), vec![(0, 0.07)]),
            ("v1req".to_string(), vec![(0, 900.0)]),
            ("v1lat".to_string(), vec![(0, 0.2)]),
        ]);
        assert!(needs_average(&series, "v2"));
        assert!(!needs_average(&series, "v1"));
        let v2 = combine(&series, "v2", "p99");
        assert!((v2.latency_ms.unwrap() - 70.0).abs() < 1e-9);
        assert_eq!(combine(&series, "v1", "p99").latency_ms, Some(200.0));
    }

    #[test]
    fn percentile_takes_the_worst_minute_and_no_data_is_zero() {
        let m = aggregate(&[(0, 1.0)], &[], &[(0, 0.2), (60, 0.5)], "p99");
        assert_eq!(m.latency_ms, Some(500.0));
        assert_eq!(aggregate(&[], &[], &[], "p99"), TgMetrics::default());
    }
}

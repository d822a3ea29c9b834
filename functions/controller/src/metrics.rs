//! The CloudWatch adapter: both target groups' series since the canary started, one datapoint
//! per metrics period (the plan's `health.period_seconds`, a minute by default), and the stable version's latency
//! baseline from before it. The series are the ALB's or, with `health.signal: targets`, the
//! targets' own (the same names and dimensions in `AlbCanary/Targets`). Sums come raw (the emulator does no metric math)
//! and the judge does the arithmetic.
//!
//! Latency: with a percentile statistic (production, `p99`), both groups' slow requests per period
//! come from CloudWatch's percentile rank `PR(:T)` on `TargetResponseTime` (the percentage of
//! requests at most T seconds): `slow = round(requests × (1 − PR / 100))`. T is fixed before the
//! periods it judges ([`judge::latency_threshold`]): from the stable version's baseline, else from the stable version's first
//! calibration span ([`read_calibration`]; the periods before that span ended are counted against
//! the ceiling, with a second rank query). The test harness's emulator computes percentiles and
//! ranks over the raw values (`tests/emulator`); with `Average`, the judge counts a period as slow
//! when its Average exceeds T.

use crate::config::Config;
use crate::decision::{Counts, Period};
use crate::error::Error;
use crate::listener::target_group_dimension;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use contract::alb_metric;
use judge::{Calibration, LatencyThreshold, period_of, period_start};
use std::collections::{BTreeMap, HashMap};

/// The baseline ends on a whole minute (ALB's own period) whatever the plan's period.
const MINUTE: i64 = 60;

type Series = HashMap<String, Vec<(i64, f64)>>;

/// The `stat` of a percentile-rank query: the share (percent) of requests at most `threshold_ms`.
/// `TargetResponseTime` is in seconds.
pub fn percentile_rank_stat(threshold_ms: f64) -> String {
    let seconds = format!("{:.6}", threshold_ms / 1000.0);
    let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
    format!("PR(:{seconds})")
}

/// Requests slower than T from a period's percentile rank (percent at most T).
pub fn slow_from_rank(requests: u64, rank_percent: f64) -> u64 {
    let share = (1.0 - rank_percent / 100.0).clamp(0.0, 1.0);
    ((requests as f64 * share).round() as u64).min(requests)
}

/// The queries for the per-period series: requests, 5XX and connection errors of both groups;
/// the latency statistic of both (the Average fallback reads it); and, with a percentile
/// statistic, both groups' percentile ranks at T
/// (`rank`) and, while calibrated periods follow earlier ones, at the ceiling (`rankc`).
pub fn series_queries(
    config: &Config,
    threshold: &LatencyThreshold,
) -> Result<Vec<MetricDataQuery>, Error> {
    let latency = &config.plan.health.latency;
    // The plan is validated: its period is at most a day.
    let period = i32::try_from(config.plan.health.period_seconds).unwrap_or(60);
    let mut queries = Vec::new();
    for (group, arn) in groups(config) {
        let tg = dimension_of(arn)?;
        for (suffix, name, stat) in [
            ("req", alb_metric::REQUEST_COUNT, "Sum"),
            ("err", alb_metric::TARGET_5XX, "Sum"),
            ("conn", alb_metric::TARGET_CONNECTION_ERRORS, "Sum"),
            ("lat", alb_metric::RESPONSE_TIME, latency.statistic.as_str()),
        ] {
            let id = format!("{group}{suffix}");
            queries.push(query(config, &id, name, stat, period, tg));
        }
        if latency.uses_percentile_rank() {
            let mut ranks = vec![("rank", threshold.ms)];
            if threshold.from.is_some() {
                ranks.push(("rankc", latency.ceiling_ms));
            }
            for (suffix, at_ms) in ranks {
                queries.push(query(
                    config,
                    &format!("{group}{suffix}"),
                    alb_metric::RESPONSE_TIME,
                    &percentile_rank_stat(at_ms),
                    period,
                    tg,
                ));
            }
        }
    }
    Ok(queries)
}

/// Folds the fetched series into periods, oldest first. A period without a datapoint had no
/// requests (ALB publishes no zero counts); latency arrives in seconds and leaves in
/// milliseconds. Slow counts come from the rank at the period's threshold: at the ceiling before
/// `ceiling_until`, at T from it on.
pub fn assemble(series: &Series, ceiling_until: Option<i64>) -> Vec<Period> {
    let mut periods: BTreeMap<i64, Period> = BTreeMap::new();
    let mut ranks = Vec::new();
    for (id, points) in series {
        let (group, field) = ["stable", "canary"]
            .into_iter()
            .find_map(|group| id.strip_prefix(group).map(|field| (group, field)))
            .unwrap_or(("", id.as_str()));
        for &(t, value) in points {
            let at_ceiling = ceiling_until.is_some_and(|until| t < until);
            match field {
                "rank" if !at_ceiling => ranks.push((group.to_string(), t, value)),
                "rankc" if at_ceiling => ranks.push((group.to_string(), t, value)),
                "rank" | "rankc" => {}
                _ => {
                    let minute = periods.entry(t).or_insert_with(|| Period {
                        t,
                        ..Period::default()
                    });
                    let counts: &mut Counts = match group {
                        "stable" => &mut minute.stable,
                        "canary" => &mut minute.canary,
                        _ => continue,
                    };
                    let count = value.max(0.0).round() as u64;
                    match field {
                        "req" => counts.requests = count,
                        "err" => counts.errors = count,
                        "conn" => counts.connection_errors = count,
                        "lat" => counts.latency_ms = Some(value * 1000.0),
                        _ => {}
                    }
                }
            }
        }
    }
    // A rank needs the period's requests: resolved once every series is in.
    for (group, t, rank) in ranks {
        if let Some(minute) = periods.get_mut(&t) {
            let counts = if group == "stable" {
                &mut minute.stable
            } else {
                &mut minute.canary
            };
            counts.slow = Some(slow_from_rank(counts.requests, rank));
        }
    }
    periods.into_values().collect()
}

/// Both groups' periods in `[start, end)`, both rounded down to whole periods (so the buckets,
/// which start at StartTime, are the periods the judge closes).
pub async fn read_series(
    cloudwatch: &Client,
    config: &Config,
    start: i64,
    end: i64,
    threshold: &LatencyThreshold,
) -> Result<Vec<Period>, Error> {
    let period = period_of(config.plan.health.period_seconds);
    let (start, end) = (period_start(start, period), period_start(end, period));
    if end <= start {
        return Ok(Vec::new());
    }
    let series = fetch(cloudwatch, series_queries(config, threshold)?, start, end).await?;
    Ok(assemble(&series, threshold.from))
}

/// The stable version's latency statistic over the `baseline_seconds` before the canary's first minute, in
/// milliseconds: one datapoint with a period of the whole baseline. `None` when stable served fewer
/// than `reference_requests` in it.
pub async fn read_baseline(
    cloudwatch: &Client,
    config: &Config,
    canary_started_at: i64,
) -> Result<Option<f64>, Error> {
    let latency = &config.plan.health.latency;
    let end = period_start(canary_started_at, MINUTE);
    let period = i64::try_from(latency.baseline_seconds).unwrap_or(3600);
    let tg = dimension_of(&config.stable_tg_arn)?;
    let queries = reference_queries(config, tg, "base", period);
    let series = fetch(cloudwatch, queries.to_vec(), end - period, end).await?;
    Ok(reference_of(
        &series,
        "base",
        end - period,
        latency.reference_requests,
    ))
}

/// The stable version's statistic and request count (`SampleCount` of the latency) over one bucket of `period`.
fn reference_queries(config: &Config, tg: &str, id: &str, period: i64) -> [MetricDataQuery; 2] {
    let latency = &config.plan.health.latency;
    let period = i32::try_from(period).unwrap_or(i32::MAX);
    [
        query(
            config,
            &format!("stable{id}"),
            alb_metric::RESPONSE_TIME,
            &latency.statistic,
            period,
            tg,
        ),
        query(
            config,
            &format!("n{id}"),
            alb_metric::RESPONSE_TIME,
            "SampleCount",
            period,
            tg,
        ),
    ]
}

/// The statistic (ms) of the bucket starting at `start`, if it holds `min_requests` requests.
fn reference_of(series: &Series, id: &str, start: i64, min_requests: u64) -> Option<f64> {
    let at = |name: String| {
        series
            .get(&name)
            .and_then(|points| points.iter().find(|(t, _)| *t == start))
            .map(|(_, v)| *v)
    };
    let requests = at(format!("n{id}")).unwrap_or(0.0);
    at(format!("stable{id}"))
        .map(|seconds| seconds * 1000.0)
        .filter(|ms| ms.is_finite() && *ms >= 0.0 && requests >= min_requests as f64)
}

/// The lengths of the calibration's candidate spans: 1, 2, 4 ... calibration spans from
/// `start`, those closed by `closed_until` (each a period CloudWatch accepts: a power of two
/// times a valid period is one too, up to a day).
pub fn calibration_lengths(span: i64, start: i64, closed_until: i64) -> Vec<i64> {
    std::iter::successors(Some(span), |len| len.checked_mul(2))
        .take_while(|len| *len <= 86_400 && start + len <= closed_until)
        .collect()
}

/// Without a baseline: the stable version's latency statistic over the shortest candidate span from the
/// calibration grid's start before the canary ([`calibration_lengths`]) that closed by
/// `closed_until` with `reference_requests` stable requests in it. One `GetMetricData`; `None`
/// until such a span exists.
pub async fn read_calibration(
    cloudwatch: &Client,
    config: &Config,
    canary_started_at: i64,
    closed_until: i64,
) -> Result<Option<Calibration>, Error> {
    let health = &config.plan.health;
    let span = period_of(health.calibration_span_seconds());
    let start = period_start(canary_started_at, span);
    let lengths = calibration_lengths(span, start, closed_until);
    let Some(longest) = lengths.last().copied() else {
        return Ok(None);
    };
    let tg = dimension_of(&config.stable_tg_arn)?;
    let queries: Vec<MetricDataQuery> = lengths
        .iter()
        .enumerate()
        .flat_map(|(i, len)| reference_queries(config, tg, &format!("cal{i}"), *len))
        .collect();
    let series = fetch(cloudwatch, queries, start, start + longest).await?;
    Ok(lengths.iter().enumerate().find_map(|(i, len)| {
        reference_of(
            &series,
            &format!("cal{i}"),
            start,
            health.latency.reference_requests,
        )
        .map(|stable_ms| Calibration {
            stable_ms,
            until: start + len,
        })
    }))
}

fn groups(config: &Config) -> [(&'static str, &String); 2] {
    [
        ("stable", &config.stable_tg_arn),
        ("canary", &config.canary_tg_arn),
    ]
}

fn dimension_of(arn: &str) -> Result<&str, Error> {
    target_group_dimension(arn).ok_or_else(|| Error::Config {
        name: contract::env::STABLE_TARGET_GROUP_ARN,
        problem: format!("`{arn}` has no targetgroup/<name>/<id> part"),
    })
}

/// One `GetMetricData` (all pages): datapoints by query id.
async fn fetch(
    cloudwatch: &Client,
    queries: Vec<MetricDataQuery>,
    start: i64,
    end: i64,
) -> Result<Series, Error> {
    let mut series: Series = HashMap::new();
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
            .map_err(Error::aws)?;
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

/// One metric of the plan's signal (the ALB's or the targets': same names and dimensions, another
/// namespace).
fn query(
    config: &Config,
    id: &str,
    name: &str,
    stat: &str,
    period: i32,
    target_group: &str,
) -> MetricDataQuery {
    let dimension = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let metric_stat = MetricStat::builder()
        .metric(
            Metric::builder()
                .namespace(config.plan.health.signal.namespace())
                .metric_name(name)
                .dimensions(dimension("LoadBalancer", &config.load_balancer))
                .dimensions(dimension("TargetGroup", target_group))
                .build(),
        )
        .period(period)
        .stat(stat);
    // No unit filter: CloudWatch would drop datapoints whose unit differs from the one asked for.
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(metric_stat.build())
        .return_data(true)
        .build()
}

#[cfg(test)]
mod tests;

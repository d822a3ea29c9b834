//! The metrics bridge: every window (one ALB metrics period of the timing profile), HAProxy's
//! per-server counter deltas and the window's request log become the ALB's per-target-group
//! metrics in the emulator, stamped with the window's start (the emulator buckets from the
//! query's StartTime and drops earlier points), and put when the profile makes them visible.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;
use contract::alb_metric;

use crate::context::Ctx;
use crate::haproxy::{self, ServerStat};
use crate::logbook::{Group, Tally};
use crate::target_health::HostCounts;

/// Not in `contract::alb_metric` (the controller does not read it yet); ALB's name for
/// connections to a target that could not be established.
pub const TARGET_CONNECTION_ERRORS: &str = "TargetConnectionErrorCount";

/// A counter's growth; a counter that went down was reset (HAProxy reloaded), so all of its
/// new value is growth.
pub fn growth(before: u64, after: u64) -> u64 {
    if after >= before {
        after - before
    } else {
        after
    }
}

/// One target group's numbers for one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowMetrics {
    /// Requests sent to the group's target, those it refused included (ALB counts a request
    /// once it chose a target).
    pub requests: u64,
    pub errors_5xx: u64,
    pub connection_errors: u64,
    /// From the target health checks, not from HAProxy.
    pub hosts: HostCounts,
}

pub fn window_metrics(before: &ServerStat, after: &ServerStat, hosts: HostCounts) -> WindowMetrics {
    WindowMetrics {
        requests: growth(before.stot, after.stot),
        errors_5xx: growth(before.hrsp_5xx, after.hrsp_5xx),
        // `econ`: the connection failed (a dead target: HAProxy answers 503 itself, outside
        // the server's `hrsp_5xx`, as ALB answers 502 outside the target's 5XX); `eresp`: it
        // broke before a whole response.
        connection_errors: growth(before.econ, after.econ) + growth(before.eresp, after.eresp),
        hosts,
    }
}

/// CloudWatch takes at most this many distinct values in one datum's `Values`/`Counts`.
pub const MAX_VALUES_PER_DATUM: usize = 150;

/// The window's per-request latencies (ms) as CloudWatch's `Values`/`Counts` in seconds: each
/// distinct value once with how often it occurred, sorted, in chunks of at most
/// [`MAX_VALUES_PER_DATUM`] (one datum each), so that percentiles and percentile ranks over any
/// bucket of windows are computed from every request, as ALB's own data is.
pub fn latency_values(latencies_ms: &[f64]) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut sorted: Vec<f64> = latencies_ms
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    sorted.sort_by(f64::total_cmp);
    let mut distinct: Vec<(f64, f64)> = Vec::new();
    for ms in sorted {
        match distinct.last_mut() {
            Some((v, n)) if *v == ms => *n += 1.0,
            _ => distinct.push((ms, 1.0)),
        }
    }
    distinct
        .chunks(MAX_VALUES_PER_DATUM)
        .map(|chunk| {
            chunk
                .iter()
                .map(|(ms, n)| (ms / 1000.0, *n))
                .unzip::<f64, f64, Vec<f64>, Vec<f64>>()
        })
        .collect()
}

/// The datapoints for one target group and window. Counts that are zero only with
/// `zero_counts` (ALB publishes none; the compressed profile puts them so that its short alarm
/// periods see a value); host counts always; latency only when there were responses, as ALB
/// does, as every request's value (`Values`/`Counts`: percentiles and ranks work on them).
pub fn datums(
    load_balancer: &str,
    target_group: &str,
    start: i64,
    m: &WindowMetrics,
    log: &Tally,
    zero_counts: bool,
) -> Vec<MetricDatum> {
    let datum = |name: &str, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(
                Dimension::builder()
                    .name("LoadBalancer")
                    .value(load_balancer)
                    .build(),
            )
            .dimensions(
                Dimension::builder()
                    .name("TargetGroup")
                    .value(target_group)
                    .build(),
            )
            .timestamp(DateTime::from_secs(start))
            .unit(unit)
    };
    let count = |name: &str, v: u64| datum(name, StandardUnit::Count).value(v as f64).build();
    let mut out: Vec<MetricDatum> = [
        (alb_metric::REQUEST_COUNT, m.requests),
        (alb_metric::TARGET_5XX, m.errors_5xx),
        (TARGET_CONNECTION_ERRORS, m.connection_errors),
    ]
    .into_iter()
    .filter(|(_, v)| zero_counts || *v > 0)
    .map(|(name, v)| count(name, v))
    .collect();
    out.push(count("HealthyHostCount", m.hosts.healthy));
    out.push(count("UnHealthyHostCount", m.hosts.unhealthy));
    for (values, counts) in latency_values(&log.latencies_ms) {
        out.push(
            datum(alb_metric::RESPONSE_TIME, StandardUnit::Seconds)
                .set_values(Some(values))
                .set_counts(Some(counts))
                .build(),
        );
    }
    out
}

fn epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Bridges window after window until dropped. A window's datapoints are put once the timing
/// profile makes them visible, each by its own task, so a late window never holds back the next.
pub async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    let mut before = haproxy::stats(&ctx.socket).await?;
    ctx.book.take_window();
    let period = ctx.timing.period_secs;
    let mut deliveries: JoinSet<Result<(), String>> = JoinSet::new();
    loop {
        let now = epoch();
        let end = ((now / period as f64).floor() + 1.0) * period as f64;
        // A little after the boundary, so the window's last requests have been logged.
        tokio::time::sleep(Duration::from_secs_f64(end - now + 0.2)).await;
        let start = end as i64 - period;
        let after = haproxy::stats(&ctx.socket).await?;
        let log = ctx.book.take_window();
        let (stable, canary) = (
            window_metrics(
                &before.stable,
                &after.stable,
                ctx.health.take_window(Group::Stable),
            ),
            window_metrics(
                &before.canary,
                &after.canary,
                ctx.health.take_window(Group::Canary),
            ),
        );
        let mut data = Vec::new();
        let lb = &ctx.config.load_balancer;
        for (arn, m, tally) in [
            (&ctx.config.stable_tg_arn, &stable, &log.stable),
            (&ctx.config.canary_tg_arn, &canary, &log.canary),
        ] {
            let tg = controller::listener::target_group_dimension(arn)
                .ok_or_else(|| format!("{arn} has no target group dimension"))?;
            data.extend(datums(
                lb,
                tg,
                start,
                m,
                tally,
                ctx.timing.puts_zero_counts(),
            ));
        }
        let delay = ctx.timing.delay_of(start);
        tracing::info!(
            window_start = start,
            stable_requests = stable.requests,
            stable_5xx = stable.errors_5xx,
            canary_requests = canary.requests,
            canary_5xx = canary.errors_5xx,
            canary_connection_errors = canary.connection_errors,
            canary_unhealthy_hosts = canary.hosts.unhealthy,
            canary_mean_ms = log.canary.mean_ms(),
            visible_after_s = delay.as_secs_f64(),
            "bridged"
        );
        before = after;
        while let Some(done) = deliveries.try_join_next() {
            done.map_err(|e| format!("a delivery task failed: {e}"))??;
        }
        let cloudwatch = ctx.clients.cloudwatch.clone();
        deliveries.spawn(async move {
            tokio::time::sleep(delay).await;
            cloudwatch
                .put_metric_data()
                .namespace(alb_metric::NAMESPACE)
                .set_metric_data(Some(data))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("PutMetricData of the window at {start}: {e:?}"))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_growth_and_resets() {
        assert_eq!(growth(10, 25), 15);
        assert_eq!(growth(25, 7), 7);
        let before = ServerStat {
            stot: 100,
            hrsp_5xx: 4,
            econ: 1,
            eresp: 0,
            weight: 10,
            port: 1,
        };
        let after = ServerStat {
            stot: 150,
            hrsp_5xx: 9,
            econ: 2,
            eresp: 3,
            weight: 10,
            port: 1,
        };
        let dead = HostCounts {
            healthy: 0,
            unhealthy: 1,
        };
        assert_eq!(
            window_metrics(&before, &after, dead),
            WindowMetrics {
                requests: 50,
                errors_5xx: 5,
                connection_errors: 4,
                hosts: dead,
            }
        );
    }

    #[test]
    fn datums_carry_both_dimensions_the_window_start_and_exact_latency_sums() {
        let m = WindowMetrics {
            requests: 3,
            errors_5xx: 1,
            connection_errors: 0,
            hosts: HostCounts {
                healthy: 1,
                unhealthy: 0,
            },
        };
        let log = Tally {
            requests: 3,
            errors_5xx: 1,
            latencies_ms: vec![10.0, 20.0, 60.0],
        };
        let d = datums("app/lb/1", "targetgroup/v2/2", 1_000, &m, &log, true);
        let names: Vec<&str> = d.iter().map(|d| d.metric_name().unwrap()).collect();
        assert_eq!(
            names,
            [
                "RequestCount",
                "HTTPCode_Target_5XX_Count",
                TARGET_CONNECTION_ERRORS,
                "HealthyHostCount",
                "UnHealthyHostCount",
                "TargetResponseTime"
            ]
        );
        assert!(
            d.iter()
                .all(|d| d.timestamp().unwrap().secs() == 1_000 && d.dimensions().len() == 2)
        );
        assert_eq!(d[5].values(), [0.01, 0.02, 0.06]);
        assert_eq!(d[5].counts(), [1.0, 1.0, 1.0]);
        assert_eq!(datums("a", "b", 0, &m, &Tally::default(), true).len(), 5);
        // As ALB: a zero count is no datapoint at all; the host counts always are.
        let quiet = WindowMetrics {
            requests: 3,
            errors_5xx: 0,
            connection_errors: 0,
            hosts: HostCounts {
                healthy: 1,
                unhealthy: 0,
            },
        };
        let names: Vec<String> = datums("a", "b", 0, &quiet, &log, false)
            .iter()
            .map(|d| d.metric_name().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "RequestCount",
                "HealthyHostCount",
                "UnHealthyHostCount",
                "TargetResponseTime"
            ]
        );
    }

    #[test]
    fn latencies_become_distinct_values_with_counts_in_chunks_cloudwatch_accepts() {
        let chunks = latency_values(&[20.0, 5.0, 20.0, 400.0, 5.0, 5.0, f64::NAN]);
        assert_eq!(chunks, [(vec![0.005, 0.02, 0.4], vec![3.0, 2.0, 1.0])]);
        let many: Vec<f64> = (0..400).map(|ms| f64::from(ms % 320)).collect();
        let chunks = latency_values(&many);
        assert_eq!(
            chunks.iter().map(|(v, _)| v.len()).collect::<Vec<_>>(),
            [150, 150, 20]
        );
        let total: f64 = chunks.iter().flat_map(|(_, c)| c).sum();
        assert_eq!(total, 400.0);
        assert!(latency_values(&[]).is_empty());
    }
}

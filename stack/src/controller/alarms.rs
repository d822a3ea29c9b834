//! The alarms on the canary that invoke the rollback function, and the metric queries they are built from;
//! the alarm on the controller's dead-letter queue.

use crate::cfn::serverless::{
    Alarm, AlarmMetric, Dimension, Function, Metric, MetricDataQuery, MetricStat, Queue,
    SingleMetric, Topic,
};
use crate::cfn::{Expr, Handle, Param, Sub};
use crate::load_balancer::LoadBalancing;

use super::names::stack_scoped;
use super::{AlarmKind, ControllerParameters};

/// The target signal's alarms judge 10 s periods (CloudWatch's high-resolution alarm period)...
pub const TARGET_ALARM_PERIOD_SECONDS: u32 = 10;
/// ...and fire on one breaching period: a second would add 10 s to every cut-off (measured in the
/// lab under AWS timing: 2 of 2 took 30-31 s from fault onset, over the 30 s target). The evidence
/// a single period of a few dozen requests lacks is asked of the period instead: the error alarm
/// tests its errors against the threshold (below), the latency alarm reads a p90, which one or two
/// slow requests cannot move.
pub const TARGET_ALARM_PERIODS: u32 = 1;
/// One-sided z at 1 %: a canary whose error rate is exactly the threshold breaches one period in a
/// hundred; at 20 % errors and 40 requests a period it breaches four in five.
pub const TARGET_ERROR_Z: f64 = 2.33;
/// The latency alarm's percentile of one 10 s period (see [`TARGET_ALARM_PERIODS`]).
pub const TARGET_LATENCY_STAT: &str = "p90";

/// Which fleet's metrics a query reads.
#[derive(Clone, Copy)]
enum Fleet {
    Stable,
    Canary,
}

/// Whose metrics: the ALB's per minute, or the target signal's per 10 s (same names, same
/// dimensions, another namespace).
#[derive(Clone, Copy)]
enum Source {
    Alb,
    Targets,
}

impl Source {
    fn namespace(self) -> &'static str {
        match self {
            Source::Alb => contract::alb_metric::NAMESPACE,
            Source::Targets => contract::target_metric::NAMESPACE,
        }
    }
}

fn dimensions(lb: &LoadBalancing, fleet: Fleet) -> Vec<Dimension> {
    vec![
        Dimension {
            name: "LoadBalancer",
            value: lb.alb.get_att("LoadBalancerFullName"),
        },
        Dimension {
            name: "TargetGroup",
            value: match fleet {
                Fleet::Stable => lb.target_group_stable.get_att("TargetGroupFullName"),
                Fleet::Canary => lb.canary_target_group_full_name.clone(),
            },
        },
    ]
}

fn canary_dimensions(lb: &LoadBalancing) -> Vec<Dimension> {
    dimensions(lb, Fleet::Canary)
}

/// The canary's error rate in percent, 0 below `min_requests` requests in the period: fewer requests are
/// no evidence either way. Error counts are FILLed with 0 because ALB publishes them only when
/// non-zero.
fn error_rate(
    source: Source,
    lb: &LoadBalancing,
    period: &Expr,
    min_requests: &Param,
) -> AlarmMetric {
    let mut metrics = error_counts(source, lb, period);
    metrics.push(MetricDataQuery {
        id: "rate",
        expression: Some(
            Sub::new(format!(
                "IF(requests >= ${{{}}}, \
                         100 * (FILL(errors, 0) + FILL(connection_errors, 0)) / requests, 0)",
                min_requests.id()
            ))
            .var(min_requests)
            .build(),
        ),
        label: Some("Canary error rate (%)"),
        metric_stat: None,
        return_data: true,
    });
    AlarmMetric::Math { metrics }
}

/// The canary's 5XX, connection errors and requests in each period, summed (ids `errors`,
/// `connection_errors`, `requests`), from `source`: the inputs of both error alarms.
fn error_counts(source: Source, lb: &LoadBalancing, period: &Expr) -> Vec<MetricDataQuery> {
    let query = |id, metric| query(id, source, metric, "Sum", Fleet::Canary, lb, period);
    vec![
        query("errors", contract::alb_metric::TARGET_5XX),
        query(
            "connection_errors",
            contract::alb_metric::TARGET_CONNECTION_ERRORS,
        ),
        query("requests", contract::alb_metric::REQUEST_COUNT),
    ]
}

/// How far the canary's errors in one 10 s period are above the threshold rate, in standard deviations
/// of the count a canary at exactly the threshold would have (the normal approximation of the
/// binomial); the alarm fires above [`TARGET_ERROR_Z`]. 0 below `min_requests` requests.
fn error_excess(lb: &LoadBalancing, params: &ControllerParameters) -> AlarmMetric {
    let period = Expr::lit(TARGET_ALARM_PERIOD_SECONDS);
    let (min, rate) = (
        &params.target_alarm_min_requests,
        &params.error_rate_threshold_percent,
    );
    let mut metrics = error_counts(Source::Targets, lb, &period);
    metrics.push(MetricDataQuery {
                id: "z",
                expression: Some(
                    Sub::new(format!(
                        "IF(requests >= ${{{min}}}, \
                         (FILL(errors, 0) + FILL(connection_errors, 0) - requests * ${{{rate}}} / 100) \
                         / SQRT(requests * ${{{rate}}} / 100 * (1 - ${{{rate}}} / 100)), 0)",
                        min = min.id(),
                        rate = rate.id(),
                    ))
                    .var(min)
                    .var(rate)
                    .build(),
                ),
                label: Some("Canary 5XX above the threshold rate (z)"),
                metric_stat: None,
                return_data: true,
            });
    AlarmMetric::Math { metrics }
}

/// How far the canary's 10 s latency percentile ([`TARGET_LATENCY_STAT`]) is above what it may be, in
/// seconds (the alarm fires above 0): at most
/// the plan's default ratio times the stable version's in the same period plus its margin (a slowdown both
/// fleets share is not the canary's fault), and never above the absolute threshold. A period without stable
/// data leaves only the absolute threshold. 0 below `min_requests` canary requests.
fn latency_excess(lb: &LoadBalancing, params: &ControllerParameters) -> AlarmMetric {
    let period = Expr::lit(TARGET_ALARM_PERIOD_SECONDS);
    let source = Source::Targets;
    let rules = contract::LatencyRules::default();
    let min_requests = &params.target_alarm_min_requests;
    let ceiling = &params.latency_threshold_seconds;
    AlarmMetric::Math {
        metrics: vec![
            query("canary", source, contract::alb_metric::RESPONSE_TIME, TARGET_LATENCY_STAT, Fleet::Canary, lb, &period),
            query("stable", source, contract::alb_metric::RESPONSE_TIME, TARGET_LATENCY_STAT, Fleet::Stable, lb, &period),
            query("requests", source, contract::alb_metric::REQUEST_COUNT, "Sum", Fleet::Canary, lb, &period),
            MetricDataQuery {
                id: "excess",
                expression: Some(
                    Sub::new(format!(
                        "IF(requests >= ${{{min}}}, \
                         MAX([canary - ({ratio} * FILL(stable, 1000) + {margin}), canary - ${{{ceiling}}}]), 0)",
                        min = min_requests.id(),
                        ceiling = ceiling.id(),
                        ratio = rules.ratio,
                        margin = rules.margin_ms / 1000.0,
                    ))
                    .var(min_requests)
                    .var(ceiling)
                    .build(),
                ),
                label: Some("Canary p90 above its allowance (s)"),
                metric_stat: None,
                return_data: true,
            },
        ],
    }
}

pub(super) fn canary_alarm(
    kind: AlarmKind,
    lb: &LoadBalancing,
    params: &ControllerParameters,
    rollback: &Handle<Function>,
    topic: &Handle<Topic>,
) -> Alarm {
    let period = params.alarm_period_seconds.r#ref();
    let periods = if kind.needs_target_signal() {
        Expr::lit(TARGET_ALARM_PERIODS)
    } else {
        params.alarm_evaluation_periods.r#ref()
    };
    let (description, operator, threshold, metric) = match kind {
        AlarmKind::ErrorRate => (
            "The canary's error rate (target 5XX and connection errors / requests, percent, once the canary served the minimum requests) is above the threshold: roll the canary back",
            "GreaterThanThreshold",
            params.error_rate_threshold_percent.r#ref(),
            error_rate(Source::Alb, lb, &period, &params.alarm_min_requests),
        ),
        AlarmKind::TargetErrorRate => (
            "The canary's errors measured on its targets by alb-canary-signal (5XX and connection errors, one 10 s period, once the canary served the minimum requests) are significantly above the error-rate threshold (z > 2.33): roll the canary back",
            "GreaterThanThreshold",
            Expr::lit(TARGET_ERROR_Z),
            error_excess(lb, params),
        ),
        AlarmKind::TargetLatency => (
            "The canary's p90 response time measured on its targets by alb-canary-signal (one 10 s period) is above 1.5 x the stable fleet's plus 0.1 s, or above the latency threshold: roll the canary back",
            "GreaterThanThreshold",
            Expr::lit(0),
            latency_excess(lb, params),
        ),
        AlarmKind::Latency => (
            "The canary's p99 target response time is above the threshold: roll the canary back",
            "GreaterThanThreshold",
            params.latency_threshold_seconds.r#ref(),
            AlarmMetric::Single(SingleMetric {
                namespace: contract::alb_metric::NAMESPACE,
                metric_name: contract::alb_metric::RESPONSE_TIME,
                dimensions: canary_dimensions(lb),
                period: period.clone(),
                statistic: None,
                extended_statistic: Some("p99"),
            }),
        ),
        AlarmKind::UnhealthyHosts => (
            "The canary has unhealthy targets while it serves traffic: roll the canary back",
            "GreaterThanThreshold",
            Expr::lit(0),
            unhealthy_while_serving(lb, &period),
        ),
    };
    Alarm {
        alarm_name: Some(stack_scoped(kind.suffix())),
        alarm_description: description.to_owned(),
        comparison_operator: operator,
        threshold,
        evaluation_periods: periods.clone(),
        datapoints_to_alarm: periods,
        treat_missing_data: "notBreaching",
        actions_enabled: true,
        alarm_actions: vec![rollback.get_att("Arn"), topic.r#ref()],
        ok_actions: vec![topic.r#ref()],
        metric,
    }
}

/// The canary's unhealthy targets, counted only in periods where canary served requests.
fn unhealthy_while_serving(lb: &LoadBalancing, period: &Expr) -> AlarmMetric {
    AlarmMetric::Math {
        metrics: vec![
            canary_query("unhealthy", "UnHealthyHostCount", "Maximum", lb, period),
            canary_query(
                "requests",
                contract::alb_metric::REQUEST_COUNT,
                "Sum",
                lb,
                period,
            ),
            MetricDataQuery {
                id: "unhealthy_serving",
                // A canary fleet with no traffic (idle, or deploying at weight 0) is not a
                // reason to roll anything back; the controller judges its health itself.
                expression: Some(Expr::lit("IF(requests > 0, unhealthy, 0)")),
                label: Some("Canary unhealthy targets while serving"),
                metric_stat: None,
                return_data: true,
            },
        ],
    }
}

/// One canary target group ALB metric with `stat`, not returned (an input of the expression).
fn canary_query(
    id: &'static str,
    metric_name: &'static str,
    stat: &'static str,
    lb: &LoadBalancing,
    period: &Expr,
) -> MetricDataQuery {
    query(
        id,
        Source::Alb,
        metric_name,
        stat,
        Fleet::Canary,
        lb,
        period,
    )
}

/// One fleet's metric from `source` with `stat`, not returned (an input of the expression).
fn query(
    id: &'static str,
    source: Source,
    metric_name: &'static str,
    stat: &'static str,
    fleet: Fleet,
    lb: &LoadBalancing,
    period: &Expr,
) -> MetricDataQuery {
    MetricDataQuery {
        id,
        expression: None,
        label: None,
        metric_stat: Some(MetricStat {
            metric: Metric {
                namespace: source.namespace(),
                metric_name,
                dimensions: dimensions(lb, fleet),
            },
            period: period.clone(),
            stat,
        }),
        return_data: false,
    }
}

/// A message in the dead-letter queue is an invocation that failed after Lambda's retries: an
/// alarm's rollback that could not finish (it is recorded as pending and the schedule's next run
/// finishes it once AWS answers, but a person should know), or a promotion run that kept failing.
/// Notified, never acted on: the message says which function and why.
pub(super) fn dead_letter_alarm(dead_letters: &Handle<Queue>, topic: &Handle<Topic>) -> Alarm {
    Alarm {
        alarm_name: None,
        alarm_description: "A controller function's invocation failed after Lambda's retries (its event and response are in the dead-letter queue): read the message and the function's log; a rollback it held is finished by the next promotion run".to_owned(),
        comparison_operator: "GreaterThanOrEqualToThreshold",
        threshold: Expr::lit(1),
        evaluation_periods: Expr::lit(1),
        datapoints_to_alarm: Expr::lit(1),
        treat_missing_data: "notBreaching",
        actions_enabled: true,
        alarm_actions: vec![topic.r#ref()],
        ok_actions: vec![topic.r#ref()],
        metric: AlarmMetric::Single(SingleMetric {
            namespace: "AWS/SQS",
            metric_name: "ApproximateNumberOfMessagesVisible",
            dimensions: vec![Dimension {
                name: "QueueName",
                value: dead_letters.get_att("QueueName"),
            }],
            period: Expr::lit(60),
            statistic: Some("Maximum"),
            extended_statistic: None,
        }),
    }
}

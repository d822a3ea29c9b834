//! The alarms on V2 that invoke the rollback function, and the metric queries they are built from;
//! the alarm on the controller's dead-letter queue.

use crate::cfn::serverless::{
    Alarm, AlarmMetric, Dimension, Function, Metric, MetricDataQuery, MetricStat, Queue,
    SingleMetric, Topic,
};
use crate::cfn::{Expr, Handle, Sub};
use crate::load_balancer::LoadBalancing;

use super::names::stack_scoped;
use super::{AlarmKind, ControllerParameters};

fn canary_dimensions(lb: &LoadBalancing) -> Vec<Dimension> {
    vec![
        Dimension {
            name: "LoadBalancer",
            value: lb.alb.get_att("LoadBalancerFullName"),
        },
        Dimension {
            name: "TargetGroup",
            value: lb.canary_target_group_full_name.clone(),
        },
    ]
}

pub(super) fn canary_alarm(
    kind: AlarmKind,
    lb: &LoadBalancing,
    params: &ControllerParameters,
    rollback: &Handle<Function>,
    topic: &Handle<Topic>,
) -> Alarm {
    let period = params.alarm_period_seconds.r#ref();
    let (description, operator, threshold, metric) = match kind {
        AlarmKind::ErrorRate => (
            "V2's error rate (target 5XX and connection errors / requests, percent, once V2 served the minimum requests) is above the threshold: roll the canary back",
            "GreaterThanThreshold",
            params.error_rate_threshold_percent.r#ref(),
            AlarmMetric::Math {
                metrics: vec![
                    alb_query("errors", contract::alb_metric::TARGET_5XX, lb, &period),
                    alb_query(
                        "connection_errors",
                        contract::alb_metric::TARGET_CONNECTION_ERRORS,
                        lb,
                        &period,
                    ),
                    alb_query("requests", contract::alb_metric::REQUEST_COUNT, lb, &period),
                    MetricDataQuery {
                        id: "rate",
                        // Fewer requests than the minimum is no evidence either way: 0. ALB
                        // publishes error counts only when non-zero, hence FILL.
                        expression: Some(
                            Sub::new(
                                "IF(requests >= ${CanaryAlarmMinRequests}, \
                                 100 * (FILL(errors, 0) + FILL(connection_errors, 0)) / requests, 0)",
                            )
                            .var(&params.alarm_min_requests)
                            .build(),
                        ),
                        label: Some("V2 5XX rate (%)"),
                        metric_stat: None,
                        return_data: true,
                    },
                ],
            },
        ),
        AlarmKind::Latency => (
            "V2's p99 target response time is above the threshold: roll the canary back",
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
            "V2 has unhealthy targets while it serves traffic: roll the canary back",
            "GreaterThanThreshold",
            Expr::lit(0),
            AlarmMetric::Math {
                metrics: vec![
                    canary_query("unhealthy", "UnHealthyHostCount", "Maximum", lb, &period),
                    canary_query(
                        "requests",
                        contract::alb_metric::REQUEST_COUNT,
                        "Sum",
                        lb,
                        &period,
                    ),
                    MetricDataQuery {
                        id: "unhealthy_serving",
                        // A canary fleet with no traffic (idle, or deploying at weight 0) is not a
                        // reason to roll anything back; the controller judges its health itself.
                        expression: Some(Expr::lit("IF(requests > 0, unhealthy, 0)")),
                        label: Some("V2 unhealthy targets while serving"),
                        metric_stat: None,
                        return_data: true,
                    },
                ],
            },
        ),
    };
    Alarm {
        alarm_name: Some(stack_scoped(kind.suffix())),
        alarm_description: description.to_owned(),
        comparison_operator: operator,
        threshold,
        evaluation_periods: params.alarm_evaluation_periods.r#ref(),
        datapoints_to_alarm: params.alarm_evaluation_periods.r#ref(),
        treat_missing_data: "notBreaching",
        actions_enabled: true,
        alarm_actions: vec![rollback.get_att("Arn"), topic.r#ref()],
        ok_actions: vec![topic.r#ref()],
        metric,
    }
}

/// One canary target group load balancer count, summed per period (an input of the expression).
fn alb_query(
    id: &'static str,
    metric_name: &'static str,
    lb: &LoadBalancing,
    period: &Expr,
) -> MetricDataQuery {
    canary_query(id, metric_name, "Sum", lb, period)
}

/// One canary target group metric with `stat`, not returned (an input of the alarm's expression).
fn canary_query(
    id: &'static str,
    metric_name: &'static str,
    stat: &'static str,
    lb: &LoadBalancing,
    period: &Expr,
) -> MetricDataQuery {
    MetricDataQuery {
        id,
        expression: None,
        label: None,
        metric_stat: Some(MetricStat {
            metric: Metric {
                namespace: contract::alb_metric::NAMESPACE,
                metric_name,
                dimensions: canary_dimensions(lb),
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

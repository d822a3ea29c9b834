//! The controller's template parameters: the plan, the schedule's rate, the alarms' settings,
//! notifications and retention.

use crate::cfn::{Cond, Expr, Param, ParamSpec, Template};

pub struct ControllerParameters {
    pub plan: Param,
    pub promotion_rate_minutes: Param,
    pub error_rate_threshold_percent: Param,
    pub alarm_min_requests: Param,
    pub latency_threshold_seconds: Param,
    pub alarm_evaluation_periods: Param,
    pub alarm_period_seconds: Param,
    pub target_alarm_min_requests: Param,
    pub notification_email: Param,
    pub log_retention_days: Param,
    pub history_retention_days: Param,
}

pub(super) fn declare_parameters(template: &mut Template) -> (ControllerParameters, Cond) {
    let parameters = ControllerParameters {
        plan: template.parameter(
            "CanaryPlan",
            ParamSpec::string(
                "The canary plan as JSON: steps (canary percent), bake_seconds per step and health rules \
                 (see README). Fields left out take their defaults.",
                &contract::Plan::default().to_json(),
            ),
        ),
        promotion_rate_minutes: template.parameter(
            "PromotionRateMinutes",
            ParamSpec::number("How often the promotion function evaluates the canary, in minutes.", 1, 1, 60),
        ),
        error_rate_threshold_percent: template.parameter(
            "CanaryErrorRateThresholdPercent",
            ParamSpec::number("The canary's error rate (target 5XX and connection errors, percent of its requests) that rolls the canary back.", 5, 1, 100),
        ),
        alarm_min_requests: template.parameter(
            "CanaryAlarmMinRequests",
            ParamSpec::number(
                "Canary requests one alarm period needs before the error-rate alarm may fire: a handful of requests cannot roll a canary back.",
                50,
                1,
                1_000_000,
            ),
        ),
        latency_threshold_seconds: template.parameter(
            "CanaryLatencyThresholdSeconds",
            ParamSpec::string("The canary's p99 target response time, in seconds, that rolls the canary back.", "1.5")
                .pattern(r"^\d+(\.\d+)?$", "a number of seconds, e.g. 1.5"),
        ),
        alarm_evaluation_periods: template.parameter(
            "CanaryAlarmEvaluationPeriods",
            ParamSpec::number("Consecutive breaching periods before a canary alarm fires.", 2, 1, 10),
        ),
        alarm_period_seconds: template.parameter(
            "CanaryAlarmPeriodSeconds",
            ParamSpec::number("Length of one alarm period, in seconds (ALB metrics are per minute). The judge's period is the plan's own health.period_seconds.", 60, 60, 3600),
        ),
        target_alarm_min_requests: template.parameter(
            "TargetAlarmMinRequests",
            ParamSpec::number(
                "With TargetSignal=enabled: the canary requests one 10-second period needs before the target signal's error-rate and latency alarms may count it as breaching.",
                10,
                1,
                1_000_000,
            ),
        ),
        notification_email: template.parameter(
            "NotificationEmail",
            ParamSpec::string("E-mail address subscribed to canary notifications; empty for none.", "")
                .pattern(r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address, or empty"),
        ),
        log_retention_days: template.parameter(
            "LogRetentionDays",
            ParamSpec::number("Retention of the controller functions' logs, in days.", 30, 1, 3653)
                .allowed(&[
                    "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545",
                    "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653",
                ]),
        ),
        history_retention_days: template.parameter(
            "HistoryRetentionDays",
            ParamSpec::number(
                "Days each canary decision and each closed release record stays in the state table (DynamoDB TTL).",
                90,
                1,
                3650,
            ),
        ),
    };
    let has_email = template.condition(
        "HasNotificationEmail",
        Expr::negate(Expr::equals(parameters.notification_email.r#ref(), "")),
    );
    (parameters, has_email)
}

//! The canary controller in the stack: the promotion and rollback functions, their roles (least
//! privilege), log groups, dead-letter queue, the state table, the notification topic, the alarms on
//! V2 that invoke the rollback, the promotion schedule and the dashboard.
//!
//! The functions read their settings from the environment variables named in `contract::env`,
//! and the names the alarms and the schedule get are built here once ([`alarm_name`],
//! [`schedule_name`]) for both the resources and the functions' environment.

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::cfn::resources::{InlinePolicy, ManagedPolicy, Policy, PolicyDocument, Role};
use crate::cfn::serverless::{
    Alarm, AlarmMetric, AttributeDefinition, Dashboard, DeadLetterConfig, Destination,
    DestinationConfig, Dimension, EventInvokeConfig, FlexibleTimeWindow, Function,
    FunctionEnvironment, KeySchema, LogGroup, LoggingConfig, Metric, MetricDataQuery, MetricStat,
    Permission, PointInTimeRecovery, Queue, RetryPolicy, Schedule, ScheduleTarget, SingleMetric,
    SseSpecification, Subscription, Table, TimeToLive, Topic, dashboard_json,
};
use crate::cfn::{Attributes, Cond, Expr, Handle, Param, ParamSpec, Sub, Template, Waiver};
mod permissions;

use permissions::{allow, assume_role, controller_statements, operator_statements};

use crate::load_balancer::LoadBalancing;

mod fleets;
pub use fleets::Fleets;
use fleets::{canary_fleet, fleet_statements};

/// The Lambda instruction set, a synth option (`cargo xtask synth --arch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn parse(value: &str) -> Result<Architecture, String> {
        match value {
            "x86_64" | "amd64" => Ok(Architecture::X86_64),
            "arm64" | "aarch64" => Ok(Architecture::Arm64),
            other => Err(format!(
                "unknown architecture `{other}`: use x86_64 or arm64"
            )),
        }
    }

    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// A controller function: its bundle and its role in the canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Promote,
    Rollback,
}

impl FunctionKind {
    pub const ALL: [FunctionKind; 2] = [FunctionKind::Promote, FunctionKind::Rollback];

    /// The binary's name under `functions/`, and its bundle folder under `build/lambda/`.
    pub const fn binary(self) -> &'static str {
        match self {
            FunctionKind::Promote => "promote",
            FunctionKind::Rollback => "rollback",
        }
    }

    /// Where `cargo xtask synth` writes the bundle, relative to the template in `templates/`.
    pub fn code_path(self) -> String {
        format!("../build/lambda/{}/bootstrap.zip", self.binary())
    }

    fn logical_prefix(self) -> &'static str {
        match self {
            FunctionKind::Promote => "PromoteFunction",
            FunctionKind::Rollback => "RollbackFunction",
        }
    }
}

/// The alarms on V2 whose ALARM state rolls the canary back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmKind {
    ErrorRate,
    Latency,
    UnhealthyHosts,
}

impl AlarmKind {
    pub const ALL: [AlarmKind; 3] = [
        AlarmKind::ErrorRate,
        AlarmKind::Latency,
        AlarmKind::UnhealthyHosts,
    ];

    /// The alarm name's suffix after `<stack name>-`.
    pub fn suffix(self) -> &'static str {
        match self {
            AlarmKind::ErrorRate => "canary-5xx-rate",
            AlarmKind::Latency => "canary-p99-latency",
            AlarmKind::UnhealthyHosts => "canary-unhealthy-hosts",
        }
    }

    fn logical_id(self) -> &'static str {
        match self {
            AlarmKind::ErrorRate => "CanaryErrorRateAlarm",
            AlarmKind::Latency => "CanaryLatencyAlarm",
            AlarmKind::UnhealthyHosts => "CanaryUnhealthyHostsAlarm",
        }
    }
}

/// An alarm's name: `<stack name>-<suffix>`. Named rather than generated because the rollback
/// function's environment lists the alarms and the alarms' actions name the function: generated
/// names would make that a circular dependency.
pub fn alarm_name(stack_name: &str, kind: AlarmKind) -> String {
    format!("{stack_name}-{}", kind.suffix())
}

/// The promotion schedule's name before the stack's unique ID. Named for the same reason as
/// [`alarm_name`], but not after the stack: a schedule name has at most 64 characters and a stack
/// name up to 128. The stack ID's UUID (36 characters) keeps it unique per stack.
pub const SCHEDULE_NAME_PREFIX: &str = "alb-canary-promotion-";

/// The promotion schedule's name for a stack whose ID ends in `stack_uuid`.
pub fn schedule_name(stack_uuid: &str) -> String {
    format!("{SCHEDULE_NAME_PREFIX}{stack_uuid}")
}

/// The longest name a schedule may have (EventBridge Scheduler's limit).
pub const SCHEDULE_NAME_MAX: usize = 64;

/// Reserved concurrency: one promotion at a time (two concurrent runs could both move a step),
/// and one rollback per alarm, so that alarms firing together are never throttled.
pub const PROMOTE_CONCURRENCY: u32 = 1;
pub const ROLLBACK_CONCURRENCY: u32 = AlarmKind::ALL.len() as u32;

fn schedule_name_expr() -> Expr {
    Expr::join(
        "",
        [
            Expr::from(SCHEDULE_NAME_PREFIX),
            Expr::split_part("/", Expr::pseudo("AWS::StackId"), 2),
        ],
    )
}

fn stack_scoped(suffix: &str) -> Expr {
    Sub::new(format!("${{AWS::StackName}}-{suffix}")).build()
}

pub struct ControllerParameters {
    pub plan: Param,
    pub promotion_rate_minutes: Param,
    pub error_rate_threshold_percent: Param,
    pub alarm_min_requests: Param,
    pub latency_threshold_seconds: Param,
    pub alarm_evaluation_periods: Param,
    pub alarm_period_seconds: Param,
    pub notification_email: Param,
    pub log_retention_days: Param,
    pub history_retention_days: Param,
}

fn declare_parameters(template: &mut Template) -> (ControllerParameters, Cond) {
    let parameters = ControllerParameters {
        plan: template.parameter(
            "CanaryPlan",
            ParamSpec::string(
                "The canary plan as JSON: steps (V2 percent), bake_seconds per step and health rules \
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
            ParamSpec::number("V2's 5XX rate (percent of its requests) that rolls the canary back.", 5, 1, 100),
        ),
        alarm_min_requests: template.parameter(
            "CanaryAlarmMinRequests",
            ParamSpec::number(
                "V2 requests one alarm period needs before the 5XX-rate alarm may fire: a handful of requests cannot roll a canary back.",
                50,
                1,
                1_000_000,
            ),
        ),
        latency_threshold_seconds: template.parameter(
            "CanaryLatencyThresholdSeconds",
            ParamSpec::string("V2's p99 target response time, in seconds, that rolls the canary back.", "1.5")
                .pattern(r"^\d+(\.\d+)?$", "a number of seconds, e.g. 1.5"),
        ),
        alarm_evaluation_periods: template.parameter(
            "CanaryAlarmEvaluationPeriods",
            ParamSpec::number("Consecutive breaching periods before a V2 alarm fires.", 2, 1, 10),
        ),
        alarm_period_seconds: template.parameter(
            "CanaryAlarmPeriodSeconds",
            ParamSpec::number("Length of one alarm period, in seconds (ALB metrics are per minute).", 60, 60, 3600),
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

/// Handles of the controller's resources, for outputs and tests.
pub struct Controller {
    pub table: Handle<Table>,
    pub topic: Handle<Topic>,
    pub schedule: Handle<Schedule>,
    pub promote: Handle<Function>,
    pub rollback: Handle<Function>,
    pub dashboard: Handle<Dashboard>,
}

pub fn build(
    template: &mut Template,
    lb: &LoadBalancing,
    fleets: &Fleets,
    architecture: Architecture,
) -> Controller {
    let (params, has_email) = declare_parameters(template);

    let table = template.add_with(
        "CanaryStateTable",
        Table {
            billing_mode: "PAY_PER_REQUEST",
            attribute_definitions: vec![
                AttributeDefinition {
                    attribute_name: contract::table::PARTITION_KEY,
                    attribute_type: "S",
                },
                AttributeDefinition {
                    attribute_name: contract::table::SORT_KEY,
                    attribute_type: "S",
                },
            ],
            key_schema: vec![
                KeySchema {
                    attribute_name: contract::table::PARTITION_KEY,
                    key_type: "HASH",
                },
                KeySchema {
                    attribute_name: contract::table::SORT_KEY,
                    key_type: "RANGE",
                },
            ],
            point_in_time_recovery_specification: PointInTimeRecovery {
                point_in_time_recovery_enabled: true,
            },
            sse_specification: SseSpecification { sse_enabled: true },
            // History items and closed release records expire after HistoryRetentionDays.
            time_to_live_specification: TimeToLive {
                attribute_name: contract::table::TTL_ATTRIBUTE,
                enabled: true,
            },
        },
        Attributes::new().waive(&[Waiver {
            control: "DynamoDB.6",
            checkov: &[],
            cfn_nag: &[],
            reason: "the table holds only the canary's state and history, which point-in-time recovery keeps, and the stack must delete in one step",
        }]),
    );
    // Not encrypted with the AWS-managed SNS key on purpose: CloudWatch alarms cannot publish to a
    // topic encrypted with `alias/aws/sns` (the key policy does not let CloudWatch use it).
    let topic = template.add_with(
        "CanaryTopic",
        Topic {
            display_name: "alb-canary",
        },
        Attributes::new().waive(&[Waiver {
            control: "SNS.1",
            checkov: &["CKV_AWS_26"],
            cfn_nag: &["W47"],
            reason: "CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key, and the notifications carry no secrets that a customer key would protect",
        }]),
    );
    template.add_with(
        "CanaryTopicEmailSubscription",
        Subscription {
            topic_arn: topic.r#ref(),
            protocol: "email",
            endpoint: params.notification_email.r#ref(),
        },
        Attributes::new().condition(&has_email),
    );
    let dead_letters = template.add(
        "ControllerDeadLetterQueue",
        Queue {
            message_retention_period: 1_209_600,
            sqs_managed_sse_enabled: true,
        },
    );

    let schedule_name_expr = schedule_name_expr();
    // Built from the name, not `GetAtt PromotionSchedule.Arn`: the schedule targets the promotion
    // function, whose role needs this ARN, so the attribute would close a dependency cycle.
    let schedule_arn = Expr::join(
        "",
        [
            Expr::from("arn:"),
            Expr::pseudo("AWS::Partition"),
            Expr::from(":scheduler:"),
            Expr::pseudo("AWS::Region"),
            Expr::from(":"),
            Expr::pseudo("AWS::AccountId"),
            Expr::from(":schedule/default/"),
            schedule_name_expr.clone(),
        ],
    );
    // The invoke permission is a separate policy (below), on the function's own ARN: the
    // promotion function's role passes this role, so naming the function here would close a
    // dependency cycle.
    let scheduler_role = template.add(
        "PromotionScheduleRole",
        Role {
            assume_role_policy_document: assume_role("scheduler.amazonaws.com"),
            managed_policy_arns: Vec::new(),
            policies: vec![InlinePolicy {
                policy_name: "dead-letters",
                policy_document: PolicyDocument::new(vec![allow(
                    vec!["sqs:SendMessage"],
                    vec![dead_letters.get_att("Arn")],
                )]),
            }],
        },
    );

    let alarm_names: Vec<Expr> = AlarmKind::ALL
        .iter()
        .map(|kind| stack_scoped(kind.suffix()))
        .collect();
    // Both functions get the same settings: the controller's configuration is one type, and the
    // operator commands read it from either function.
    let environment = || {
        let mut variables: IndexMap<&'static str, Expr> = IndexMap::new();
        variables.insert(contract::env::LISTENER_ARN, lb.live_listener.clone());
        variables.insert(
            contract::env::STABLE_TARGET_GROUP_ARN,
            lb.target_group_v1.r#ref(),
        );
        variables.insert(
            contract::env::CANARY_TARGET_GROUP_ARN,
            lb.canary_target_group.clone(),
        );
        variables.insert(
            contract::env::LOAD_BALANCER_DIMENSION,
            lb.alb.get_att("LoadBalancerFullName"),
        );
        variables.insert(contract::env::STATE_TABLE, table.r#ref());
        variables.insert(contract::env::SCHEDULE_NAME, schedule_name_expr.clone());
        variables.insert(contract::env::SCHEDULE_GROUP, Expr::lit("default"));
        variables.insert(contract::env::TOPIC_ARN, topic.r#ref());
        variables.insert(contract::env::PLAN, params.plan.r#ref());
        variables.insert(
            contract::env::ROLLBACK_ALARMS,
            Expr::join(",", alarm_names.clone()),
        );
        variables.insert(
            contract::env::HISTORY_DAYS,
            params.history_retention_days.r#ref(),
        );
        variables.insert(
            contract::env::ARTIFACT_BUCKET,
            fleets.storage.artifact_bucket.r#ref(),
        );
        variables.insert(
            contract::env::ARTIFACT_PREFIX,
            fleets.parameters.artifact_prefix.r#ref(),
        );
        variables.insert(contract::env::STABLE_FLEET, fleets.compute.v1_group.r#ref());
        variables.insert(contract::env::CANARY_FLEET, canary_fleet(fleets));
        FunctionEnvironment { variables }
    };

    let mut functions = Vec::new();
    for kind in FunctionKind::ALL {
        let prefix = kind.logical_prefix();
        let log_group = template.add(
            &format!("{prefix}LogGroup"),
            LogGroup {
                retention_in_days: params.log_retention_days.r#ref(),
            },
        );
        let role = template.add(
            &format!("{prefix}Role"),
            Role {
                assume_role_policy_document: assume_role("lambda.amazonaws.com"),
                managed_policy_arns: Vec::new(),
                policies: vec![InlinePolicy {
                    policy_name: "canary-controller",
                    policy_document: PolicyDocument::new(
                        controller_statements(
                            lb,
                            &table,
                            &topic,
                            &log_group,
                            &dead_letters,
                            &schedule_arn,
                            &scheduler_role,
                        )
                        .into_iter()
                        // Promotion moves fleets; rollback moves the stable fleet back when a
                        // release is rolled back while the stable fleet was moving to it.
                        .chain(fleet_statements(fleets))
                        .collect(),
                    ),
                }],
            },
        );
        let function = template.add_with(
            prefix,
            Function {
                description: match kind {
                    FunctionKind::Promote => {
                        "alb-canary: evaluates V2 against V1 and moves the listener weights".into()
                    }
                    FunctionKind::Rollback => "alb-canary: a V2 alarm sets V2's weight to 0".into(),
                },
                runtime: "provided.al2023",
                handler: "bootstrap",
                architectures: vec![architecture.lambda_name()],
                code: kind.code_path(),
                role: role.get_att("Arn"),
                memory_size: 128,
                timeout: 60,
                reserved_concurrent_executions: match kind {
                    FunctionKind::Promote => PROMOTE_CONCURRENCY,
                    FunctionKind::Rollback => ROLLBACK_CONCURRENCY,
                },
                environment: environment(),
                logging_config: LoggingConfig {
                    log_group: log_group.r#ref(),
                    log_format: "JSON",
                },
                tags: Vec::new(),
            },
            // W3002: `Code` is a local path on purpose: `sam deploy` (our only deploy path) packages
            // and uploads it, and `cargo xtask synth` builds the zip it names.
            Attributes::new().ignore_lint(&["W3002"]).waive(&[Waiver {
                control: "Lambda.3",
                checkov: &["CKV_AWS_117"],
                cfn_nag: &["W89"],
                reason: "the functions call only AWS APIs, which a VPC would reach only through NAT or interface endpoints added for nothing",
            }]),
        );
        template.add(
            &format!("{prefix}AsyncFailures"),
            EventInvokeConfig {
                function_name: function.r#ref(),
                qualifier: "$LATEST",
                maximum_retry_attempts: 2,
                maximum_event_age_in_seconds: 3600,
                destination_config: DestinationConfig {
                    on_failure: Destination {
                        destination: dead_letters.get_att("Arn"),
                    },
                },
            },
        );
        functions.push(function);
    }
    let rollback = functions.pop().expect("two functions");
    let promote = functions.pop().expect("two functions");

    let invoke_policy = template.add(
        "PromotionScheduleInvokePolicy",
        Policy {
            policy_name: "invoke-promotion",
            policy_document: PolicyDocument::new(vec![allow(
                vec!["lambda:InvokeFunction"],
                vec![promote.get_att("Arn")],
            )]),
            roles: vec![scheduler_role.r#ref()],
        },
    );
    // The first run must find the invoke permission in place.
    let schedule = template.add_with(
        "PromotionSchedule",
        Schedule {
            name: schedule_name_expr,
            description: "alb-canary: evaluates the canary and promotes, holds or rolls back",
            schedule_expression: Sub::new("rate(${PromotionRateMinutes} minutes)")
                .var(&params.promotion_rate_minutes)
                .build(),
            state: "ENABLED",
            flexible_time_window: FlexibleTimeWindow { mode: "OFF" },
            target: ScheduleTarget {
                arn: promote.get_att("Arn"),
                role_arn: scheduler_role.get_att("Arn"),
                input: contract::schedule_event::INPUT.to_owned(),
                retry_policy: RetryPolicy {
                    maximum_retry_attempts: 0,
                    maximum_event_age_in_seconds: 60,
                },
                dead_letter_config: DeadLetterConfig {
                    arn: dead_letters.get_att("Arn"),
                },
            },
        },
        Attributes::new().depends_on(&invoke_policy),
    );

    let mut alarm_arns = Vec::new();
    for kind in AlarmKind::ALL {
        let alarm = template.add(
            kind.logical_id(),
            canary_alarm(kind, lb, &params, &rollback, &topic),
        );
        alarm_arns.push(alarm.get_att("Arn"));
        template.add(
            &format!("{}InvokesRollback", kind.logical_id()),
            Permission {
                action: "lambda:InvokeFunction",
                function_name: rollback.get_att("Arn"),
                principal: "lambda.alarms.cloudwatch.amazonaws.com",
                source_account: Expr::pseudo("AWS::AccountId"),
                source_arn: alarm.get_att("Arn"),
            },
        );
    }

    // What `canaryctl` (cargo xtask status, pause, resume, promote, abort, publish) calls, for the
    // operators' own roles to attach: the deployed function's settings, the same reads and writes
    // the functions make, the alarms' states and the artifact upload. The IAM proof evaluates it.
    let operator_policy = template.add(
        "CanaryOperatorPolicy",
        ManagedPolicy {
            description: "alb-canary operators: canaryctl status, pause, resume, promote, abort and publish",
            policy_document: PolicyDocument::new(operator_statements(
                lb,
                fleets,
                &table,
                &topic,
                [&promote, &rollback],
                alarm_arns,
                &schedule_arn,
                &scheduler_role,
            )),
        },
    );

    let dashboard = template.add(
        "CanaryDashboard",
        Dashboard {
            dashboard_name: stack_scoped("canary"),
            dashboard_body: dashboard_body(lb),
        },
    );

    template.output(
        "DashboardUrl",
        "CloudWatch dashboard of the canary",
        Sub::new(
            "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=${CanaryDashboard}",
        )
        .var(&dashboard)
        .build(),
        None,
    );
    template.output(
        "StateTableName",
        "DynamoDB table of the canary's state and history",
        table.r#ref(),
        None,
    );
    template.output(
        "NotificationTopicArn",
        "SNS topic of canary notifications",
        topic.r#ref(),
        None,
    );
    template.output(
        "PromotionScheduleName",
        "EventBridge Scheduler schedule of the promotion",
        schedule.r#ref(),
        None,
    );
    template.output(
        "OperatorPolicyArn",
        "Managed policy for the people and roles that run canaryctl (cargo xtask status, pause, ...)",
        operator_policy.r#ref(),
        None,
    );
    template.output(
        "PromoteFunctionName",
        "Promotion function",
        promote.r#ref(),
        None,
    );
    template.output(
        "RollbackFunctionName",
        "Rollback function",
        rollback.r#ref(),
        None,
    );

    Controller {
        table,
        topic,
        schedule,
        promote,
        rollback,
        dashboard,
    }
}

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

fn canary_alarm(
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
        alarm_name: stack_scoped(kind.suffix()),
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

fn alb_query(
    id: &'static str,
    metric_name: &'static str,
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
            stat: "Sum",
        }),
        return_data: false,
    }
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

/// V1 against V2 side by side: traffic, 5XX rate, latency p50/p99, the canary weight the
/// functions publish, and the alarms' states.
fn dashboard_body(lb: &LoadBalancing) -> Expr {
    let ns = contract::alb_metric::NAMESPACE;
    let per_tg = |metric: &str, stat: &str, tg: &str, label: &str| json!([ns, metric, "LoadBalancer", "${Alb}", "TargetGroup", tg, { "stat": stat, "label": label }]);
    let rate = |id: &str, tg: &str, label: &str| {
        vec![
            json!([ns, contract::alb_metric::TARGET_5XX, "LoadBalancer", "${Alb}", "TargetGroup", tg,
                   { "stat": "Sum", "id": format!("{id}e"), "visible": false }]),
            json!([ns, contract::alb_metric::REQUEST_COUNT, "LoadBalancer", "${Alb}", "TargetGroup", tg,
                   { "stat": "Sum", "id": format!("{id}r"), "visible": false }]),
            json!([{ "expression": format!("IF({id}r > 0, 100 * {id}e / {id}r, 0)"), "label": label }]),
        ]
    };
    let widget = |x: u32, y: u32, title: &str, metrics: Vec<Value>| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": { "title": title, "region": "${AWS::Region}", "view": "timeSeries",
                            "period": 60, "metrics": metrics }
        })
    };
    let alarms: Vec<Value> = AlarmKind::ALL
        .iter()
        .map(|kind| json!(format!("arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:${{AWS::StackName}}-{}", kind.suffix())))
        .collect();
    let body = json!({
        "widgets": [
            widget(0, 0, "Requests per minute: V1 vs V2", vec![
                per_tg(contract::alb_metric::REQUEST_COUNT, "Sum", "${TargetGroupV1}", "V1"),
                per_tg(contract::alb_metric::REQUEST_COUNT, "Sum", "${CanaryTargetGroup}", "V2"),
            ]),
            widget(12, 0, "5XX rate (%): V1 vs V2",
                rate("v1", "${TargetGroupV1}", "V1").into_iter().chain(rate("v2", "${CanaryTargetGroup}", "V2")).collect()),
            widget(0, 6, "Target response time p50 / p99 (s)", vec![
                per_tg(contract::alb_metric::RESPONSE_TIME, "p50", "${TargetGroupV1}", "V1 p50"),
                per_tg(contract::alb_metric::RESPONSE_TIME, "p99", "${TargetGroupV1}", "V1 p99"),
                per_tg(contract::alb_metric::RESPONSE_TIME, "p50", "${CanaryTargetGroup}", "V2 p50"),
                per_tg(contract::alb_metric::RESPONSE_TIME, "p99", "${CanaryTargetGroup}", "V2 p99"),
            ]),
            widget(12, 6, "Canary weight (% of traffic to V2)", vec![
                json!([contract::metric::NAMESPACE, contract::metric::CANARY_WEIGHT,
                       contract::metric::DIMENSION, "${Alb}", { "stat": "Maximum", "label": "V2 weight" }]),
            ]),
            {
                "type": "alarm", "x": 0, "y": 12, "width": 24, "height": 3,
                "properties": { "title": "Rollback alarms on V2", "alarms": alarms }
            }
        ]
    });
    Expr(json!({
        "Fn::Sub": [
            dashboard_json(&body),
            {
                "Alb": lb.alb.get_att("LoadBalancerFullName").as_json(),
                "TargetGroupV1": lb.target_group_v1.get_att("TargetGroupFullName").as_json(),
                "CanaryTargetGroup": lb.canary_target_group_full_name.as_json(),
            }
        ]
    }))
}

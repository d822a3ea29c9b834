//! The canary controller in the stack: the promotion and rollback functions, their roles (least
//! privilege), log groups, dead-letter queue, the state table, the notification topic, the alarms on
//! V2 that invoke the rollback, the promotion schedule and the dashboard.
//!
//! The functions read their settings from the environment variables named in `contract::env`,
//! and the names the alarms and the schedule get are built here once ([`alarm_name`],
//! `schedule_name_expr`) for both the resources and the functions' environment.

use indexmap::IndexMap;

use crate::cfn::resources::{InlinePolicy, ManagedPolicy, Policy, PolicyDocument, Role};
use crate::cfn::serverless::{
    AttributeDefinition, Dashboard, DeadLetterConfig, Destination, DestinationConfig,
    EventInvokeConfig, FlexibleTimeWindow, Function, FunctionEnvironment, KeySchema, LogGroup,
    LoggingConfig, Permission, PointInTimeRecovery, Queue, RetryPolicy, Schedule, ScheduleTarget,
    SseSpecification, Subscription, Table, TimeToLive, Topic,
};
use crate::cfn::{Attributes, Expr, Fsbp, Sub, Template, Waiver};
mod permissions;

use permissions::{allow, assume_role, controller_statements, operator_statements};

use crate::load_balancer::LoadBalancing;

mod alarms;
mod dashboard;
mod fleets;
mod names;
mod parameters;

use alarms::{canary_alarm, dead_letter_alarm};
use dashboard::dashboard_body;
pub use fleets::Fleets;
use fleets::{canary_fleet, fleet_statements};
pub use names::*;
use names::{schedule_name_expr, stack_scoped};
pub use parameters::ControllerParameters;
use parameters::declare_parameters;

/// Adds the controller's resources and their outputs.
/// The functions' roles and the operators' policy grant a few reads on `"*"`; the cfn_nag ID
/// differs by resource type (W11 a role, W13 a managed policy).
const DESCRIBE_WILDCARDS: Waiver = Waiver {
    control: Fsbp::Holds("IAM.1"),
    checkov: &[],
    cfn_nag: &[],
    guard: &["IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE"],
    reason: "only elasticloadbalancing:DescribeListeners and DescribeTargetHealth, cloudwatch:GetMetricData and autoscaling:DescribeInstanceRefreshes get \"*\", because IAM has no resource-level permissions for them, and every write names its resource",
};

pub fn build(
    template: &mut Template,
    lb: &LoadBalancing,
    fleets: &Fleets,
    architecture: Architecture,
) {
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
        Attributes::new().waive(&[
            Waiver {
                control: Fsbp::NoControl,
                checkov: &["CKV_AWS_119"],
                cfn_nag: &["W74"],
                guard: &["DYNAMODB_TABLE_ENCRYPTED_KMS"],
                reason: "the table is encrypted with the AWS-managed DynamoDB key (SSEEnabled), and a customer key would add a key policy and a cost for state that holds no secrets",
            },
            Waiver {
                control: Fsbp::Waived("DynamoDB.6"),
                checkov: &[],
                cfn_nag: &[],
                guard: &[],
                reason: "the table holds only the canary's state and history, which point-in-time recovery keeps, and the stack must delete in one step",
            },
        ]),
    );
    // Not encrypted with the AWS-managed SNS key on purpose: CloudWatch alarms cannot publish to a
    // topic encrypted with `alias/aws/sns` (the key policy does not let CloudWatch use it).
    let topic = template.add_with(
        "CanaryTopic",
        Topic {
            display_name: "alb-canary",
        },
        Attributes::new().waive(&[Waiver {
            control: Fsbp::Waived("SNS.1"),
            checkov: &["CKV_AWS_26"],
            cfn_nag: &["W47"],
            guard: &["SNS_ENCRYPTED_KMS"],
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
    let dead_letters = template.add_with(
        "ControllerDeadLetterQueue",
        Queue {
            message_retention_period: 1_209_600,
            sqs_managed_sse_enabled: true,
        },
        Attributes::new().waive(&[Waiver {
            control: Fsbp::Holds("SQS.1"),
            checkov: &["CKV_AWS_27"],
            cfn_nag: &["W48"],
            guard: &["SQS_QUEUE_KMS_MASTER_KEY_ID_RULE"],
            reason: "SSE-SQS encrypts the queue at rest, and a KMS key would need grants for the functions' failure destinations and the scheduler to keep writing to it",
        }]),
    );
    template.add(
        "ControllerDeadLetterAlarm",
        dead_letter_alarm(&dead_letters, &topic),
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
    let scheduler_role = template.add_with(
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
        Attributes::new().waive(&[crate::security::INLINE_POLICY_WAIVER]),
    );

    // The alarms that exist: the rollback function acts on these only, `status` reads these.
    let alarm_names = |with_target_signal: bool| {
        Expr::join(
            ",",
            AlarmKind::ALL
                .iter()
                .filter(|kind| with_target_signal || !kind.needs_target_signal())
                .map(|kind| stack_scoped(kind.suffix())),
        )
    };
    let alarm_names = Expr::if_(
        &fleets.conditions.target_signal_on,
        alarm_names(true),
        alarm_names(false),
    );
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
        variables.insert(contract::env::ROLLBACK_ALARMS, alarm_names.clone());
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
        variables.insert(
            contract::env::TARGET_SIGNAL,
            fleets.parameters.target_signal.r#ref(),
        );
        FunctionEnvironment { variables }
    };

    let mut functions = Vec::new();
    for kind in FunctionKind::ALL {
        let prefix = kind.logical_prefix();
        let log_group = template.add_with(
            &format!("{prefix}LogGroup"),
            LogGroup {
                retention_in_days: params.log_retention_days.r#ref(),
            },
            Attributes::new().waive(&[Waiver {
                control: Fsbp::NoControl,
                checkov: &["CKV_AWS_158"],
                cfn_nag: &["W84"],
                guard: &["CLOUDWATCH_LOG_GROUP_ENCRYPTED"],
                reason: "CloudWatch Logs encrypts every log group at rest, and a customer key would need a key policy for the logs service to protect decision lines that hold no secrets",
            }, Waiver {
                control: Fsbp::NoControl,
                checkov: &[],
                cfn_nag: &[],
                guard: &["CW_LOGGROUP_RETENTION_PERIOD_CHECK"],
                reason: "the retention is the LogRetentionDays parameter (30 days by default, 365 in the governed-account profile), which the rule cannot read through the Ref",
            }]),
        );
        let role = template.add_with(
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
            Attributes::new().waive(&[
                crate::security::INLINE_POLICY_WAIVER,
                Waiver {
                    cfn_nag: &["W11"],
                    ..DESCRIBE_WILDCARDS
                },
            ]),
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
            Attributes::new().ignore_lint(&["W3002"]).waive(&[
                Waiver {
                    control: Fsbp::Waived("Lambda.3"),
                    checkov: &["CKV_AWS_117"],
                    cfn_nag: &["W89"],
                    guard: &["LAMBDA_INSIDE_VPC"],
                    reason: "the functions call only AWS APIs, which a VPC would reach only through NAT or interface endpoints added for nothing",
                },
                Waiver {
                    control: Fsbp::NoControl,
                    checkov: &["CKV_AWS_116"],
                    cfn_nag: &[],
                    guard: &["LAMBDA_DLQ_CHECK"],
                    reason: "failed asynchronous invocations go to the dead-letter queue through the function's EventInvokeConfig OnFailure destination, whose invocation record carries the function's response along with the event, where a DeadLetterConfig would keep only the event",
                },
                Waiver {
                    control: Fsbp::NoControl,
                    checkov: &["CKV_AWS_173"],
                    cfn_nag: &[],
                    guard: &[],
                    reason: "the environment holds only resource names and the plan, no secrets, and Lambda encrypts it at rest with its AWS-managed key",
                },
            ]),
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
        let exists = || {
            if kind.needs_target_signal() {
                Attributes::new().condition(&fleets.conditions.target_signal_on)
            } else {
                Attributes::new()
            }
        };
        let alarm = template.add_with(
            kind.logical_id(),
            canary_alarm(kind, lb, &params, &rollback, &topic),
            exists().waive(&[Waiver {
                control: Fsbp::NoControl,
                checkov: &[],
                cfn_nag: &["W28"],
                guard: &["CFN_NO_EXPLICIT_RESOURCE_NAMES"],
                reason: "the rollback function's environment lists the alarms by name and the alarms' actions name the function, so generated names would be a circular dependency, and each name starts with the stack's name so stacks never collide",
            }]),
        );
        alarm_arns.push(if kind.needs_target_signal() {
            Expr::if_(
                &fleets.conditions.target_signal_on,
                alarm.get_att("Arn"),
                Expr::no_value(),
            )
        } else {
            alarm.get_att("Arn")
        });
        template.add_with(
            &format!("{}InvokesRollback", kind.logical_id()),
            Permission {
                action: "lambda:InvokeFunction",
                function_name: rollback.get_att("Arn"),
                principal: "lambda.alarms.cloudwatch.amazonaws.com",
                source_account: Expr::pseudo("AWS::AccountId"),
                source_arn: alarm.get_att("Arn"),
            },
            exists(),
        );
    }

    // What `canaryctl` (cargo xtask status, pause, resume, promote, abort, publish) calls, for the
    // operators' own roles to attach: the deployed function's settings, the same reads and writes
    // the functions make, the alarms' states and the artifact upload. The IAM proof evaluates it.
    let operator_policy = template.add_with(
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
        Attributes::new().waive(&[Waiver {
            cfn_nag: &["W13"],
            ..DESCRIBE_WILDCARDS
        }]),
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
}

//! The canary controller in the stack: the promotion and rollback functions, their roles (least
//! privilege), log groups, dead-letter queue, the state table, the notification topic, the alarms on
//! Canary that invoke the rollback, the promotion schedule and the dashboard.
//!
//! The functions read their settings from the environment variables named in `contract::env`,
//! and the names the alarms and the schedule get are built here once ([`alarm_name`],
//! `schedule_name_expr`) for both the resources and the functions' environment.

use crate::cfn::resources::{InlinePolicy, ManagedPolicy, Policy, PolicyDocument, Role};
use crate::cfn::serverless::{
    AttributeDefinition, Dashboard, DeadLetterConfig, FlexibleTimeWindow, Function, KeySchema,
    Permission, PointInTimeRecovery, Queue, RetryPolicy, Schedule, ScheduleTarget,
    SseSpecification, Subscription, Table, TimeToLive, Topic,
};
use crate::cfn::{Attributes, Cond, Expr, Fsbp, Handle, Sub, Template, Waiver};
mod permissions;

use permissions::{allow, assume_role, operator_statements};

use crate::load_balancer::LoadBalancing;

mod alarms;
mod dashboard;
mod fleets;
mod functions;
mod names;
mod parameters;

use alarms::{canary_alarm, dead_letter_alarm};
use dashboard::dashboard_body;
pub use fleets::Fleets;
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
    let table = state_table(template);
    let (topic, dead_letters) = notifications(template, &params, &has_email);
    let (schedule_arn, scheduler_role) = scheduler_identity(template, &dead_letters);
    let shared = Shared {
        params,
        table,
        topic,
        dead_letters,
        schedule_arn,
        scheduler_role,
    };
    let [promotion, rollback] = functions::build(template, lb, fleets, architecture, &shared);
    let schedule = promotion_schedule(template, &shared, &promotion);
    let alarm_arns = rollback_alarms(template, lb, fleets, &shared, &rollback);
    let operator_policy = operator_policy(
        template,
        lb,
        fleets,
        &shared,
        [&promotion, &rollback],
        alarm_arns,
    );
    let dashboard = template.add(
        "CanaryDashboard",
        Dashboard {
            dashboard_name: stack_scoped("canary"),
            dashboard_body: dashboard_body(lb),
        },
    );
    let outputs = Outputs {
        dashboard,
        schedule,
        operator_policy,
        promotion,
        rollback,
    };
    outputs.add(template, &shared);
}

/// What the controller's resources share: its parameters and the resources the functions, the
/// schedule, the alarms and the operators' policy all name.
struct Shared {
    params: ControllerParameters,
    table: Handle<Table>,
    topic: Handle<Topic>,
    dead_letters: Handle<Queue>,
    /// The promotion schedule's ARN, built from its name (see [`scheduler_identity`]).
    schedule_arn: Expr,
    scheduler_role: Handle<Role>,
}

/// The state table: the canary's state item, its history and the release records.
fn state_table(template: &mut Template) -> Handle<Table> {
    template.add_with(
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
    )
}

/// The notification topic (and its e-mail subscription when an address is given), the
/// functions' dead-letter queue and the alarm on it.
fn notifications(
    template: &mut Template,
    params: &ControllerParameters,
    has_email: &Cond,
) -> (Handle<Topic>, Handle<Queue>) {
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
        Attributes::new().condition(has_email),
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
    (topic, dead_letters)
}

/// The promotion schedule's ARN and the role the scheduler assumes to invoke the promotion.
fn scheduler_identity(
    template: &mut Template,
    dead_letters: &Handle<Queue>,
) -> (Expr, Handle<Role>) {
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
    (schedule_arn, scheduler_role)
}

/// The schedule that invokes the promotion function, after its invoke permission.
fn promotion_schedule(
    template: &mut Template,
    shared: &Shared,
    promotion: &Handle<Function>,
) -> Handle<Schedule> {
    let invoke_policy = template.add(
        "PromotionScheduleInvokePolicy",
        Policy {
            policy_name: "invoke-promotion",
            policy_document: PolicyDocument::new(vec![allow(
                vec!["lambda:InvokeFunction"],
                vec![promotion.get_att("Arn")],
            )]),
            roles: vec![shared.scheduler_role.r#ref()],
        },
    );
    // The first run must find the invoke permission in place.
    template.add_with(
        "PromotionSchedule",
        Schedule {
            name: schedule_name_expr(),
            description: "alb-canary: evaluates the canary and promotes, holds or rolls back",
            schedule_expression: Sub::new("rate(${PromotionRateMinutes} minutes)")
                .var(&shared.params.promotion_rate_minutes)
                .build(),
            state: "ENABLED",
            flexible_time_window: FlexibleTimeWindow { mode: "OFF" },
            target: ScheduleTarget {
                arn: promotion.get_att("Arn"),
                role_arn: shared.scheduler_role.get_att("Arn"),
                input: contract::schedule_event::INPUT.to_owned(),
                retry_policy: RetryPolicy {
                    maximum_retry_attempts: 0,
                    maximum_event_age_in_seconds: 60,
                },
                dead_letter_config: DeadLetterConfig {
                    arn: shared.dead_letters.get_att("Arn"),
                },
            },
        },
        Attributes::new().depends_on(&invoke_policy),
    )
}

/// The alarms on the canary and their permissions to invoke the rollback; returns the alarms' ARNs (those
/// of the target signal's only when it is on).
fn rollback_alarms(
    template: &mut Template,
    lb: &LoadBalancing,
    fleets: &Fleets,
    shared: &Shared,
    rollback: &Handle<Function>,
) -> Vec<Expr> {
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
            canary_alarm(kind, lb, &shared.params, rollback, &shared.topic),
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
    alarm_arns
}

fn operator_policy(
    template: &mut Template,
    lb: &LoadBalancing,
    fleets: &Fleets,
    shared: &Shared,
    functions: [&Handle<Function>; 2],
    alarm_arns: Vec<Expr>,
) -> Handle<ManagedPolicy> {
    // What `canaryctl` (cargo xtask status, pause, resume, skip-bake, abort, publish) calls, for the
    // operators' own roles to attach: the deployed function's settings, the same reads and writes
    // the functions make, the alarms' states and the artifact upload. The IAM proof evaluates it.
    template.add_with(
        "CanaryOperatorPolicy",
        ManagedPolicy {
            // `promote` is skip-bake's former name. It stays: a new description replaces the
            // policy, which detaches it from every role an operator attached it to.
            description: "alb-canary operators: canaryctl status, pause, resume, promote, abort and publish",
            policy_document: PolicyDocument::new(operator_statements(
                lb,
                fleets,
                &shared.table,
                &shared.topic,
                functions,
                alarm_arns,
                &shared.schedule_arn,
                &shared.scheduler_role,
            )),
        },
        Attributes::new().waive(&[Waiver {
            cfn_nag: &["W13"],
            ..DESCRIBE_WILDCARDS
        }]),
    )
}

/// The handles the stack's outputs name.
struct Outputs {
    dashboard: Handle<Dashboard>,
    schedule: Handle<Schedule>,
    operator_policy: Handle<ManagedPolicy>,
    promotion: Handle<Function>,
    rollback: Handle<Function>,
}

impl Outputs {
    fn add(&self, template: &mut Template, shared: &Shared) {
        template.output(
            "DashboardUrl",
            "CloudWatch dashboard of the canary",
            Sub::new(
                "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=${CanaryDashboard}",
            )
            .var(&self.dashboard)
            .build(),
            None,
        );
        template.output(
            "StateTableName",
            "DynamoDB table of the canary's state and history",
            shared.table.r#ref(),
            None,
        );
        template.output(
            "NotificationTopicArn",
            "SNS topic of canary notifications",
            shared.topic.r#ref(),
            None,
        );
        template.output(
            "PromotionScheduleName",
            "EventBridge Scheduler schedule of the promotion",
            self.schedule.r#ref(),
            None,
        );
        template.output(
            "OperatorPolicyArn",
            "Managed policy for the people and roles that run canaryctl (cargo xtask status, pause, ...)",
            self.operator_policy.r#ref(),
            None,
        );
        template.output(
            "PromotionFunctionName",
            "Promotion function",
            self.promotion.r#ref(),
            None,
        );
        template.output(
            "RollbackFunctionName",
            "Rollback function",
            self.rollback.r#ref(),
            None,
        );
    }
}
